"""The radiation banner's wording and severity, decided from a dose snapshot.

Qt-free: the radiation dock only draws what :func:`radiation_banner` returns,
so the words a radiation officer reads are tested without a GUI and the same
words can go into a report. Pure function (any thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from telemetry.core.units import format_dose, format_pfu, gmt_text
from telemetry.radiation.estimator.model import ShelterAction
from telemetry.radiation.spaceweather import s_label, s_scale

if TYPE_CHECKING:
    from telemetry.radiation.estimator.model import DoseSnapshot


class BannerLevel(StrEnum):
    """How the banner is shown; the names match ``widgets.levels.Level``."""

    NO_DATA = "no_data"
    NOMINAL = "nominal"
    WATCH = "watch"
    WARNING = "warning"
    CRITICAL = "critical"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class BannerText:
    """What the banner says: a title line, its level, and detail lines."""

    title: str
    level: BannerLevel
    detail: str


#: Banner shown before the estimator has published anything.
WAITING = BannerText("NO DOSE ESTIMATE", BannerLevel.NO_DATA, "waiting for data")


def s_banner_level(level: int) -> BannerLevel:
    """Display level of a NOAA S-level, as the dictionary's s_scale limits."""
    if level >= 3:
        return BannerLevel.CRITICAL
    if level == 2:
        return BannerLevel.WARNING
    if level == 1:
        return BannerLevel.WATCH
    return BannerLevel.NOMINAL


_ACTION_LEVEL = {
    ShelterAction.NONE: BannerLevel.NOMINAL,
    ShelterAction.AVOID_LOW_SHIELDED: BannerLevel.WATCH,
    ShelterAction.SLEEP_SHIELDED: BannerLevel.WARNING,
    ShelterAction.RELOCATE: BannerLevel.CRITICAL,
}


def radiation_banner(snap: DoseSnapshot) -> BannerText:
    """Return the banner for a snapshot: shelter advice first, then SPE state."""
    spe = snap.spe
    shelter = snap.shelter
    event = spe.event
    facts: list[str] = []
    if event is not None:
        facts.append(
            f"SPE onset {gmt_text(event.onset)} · peak {event.peak_p10:.4g} pfu "
            f"({s_label(s_scale(event.peak_p10))}) "
            f"at {gmt_text(event.peak_p10_time)}"
        )
    if spe.energetic and spe.energetic_onset is not None:
        facts.append(f"energetic since {gmt_text(spe.energetic_onset)}")
    what = f"SPE S{spe.s_level}" if spe.active else "ENERGETIC PROTONS"
    advised = [c for c in shelter.crew if c.action != ShelterAction.NONE]
    if advised:
        # Graded advice: each person, their action and the reason in words.
        lines = [
            f"{c.crew_id}: {c.action.value}: {c.reason}"
            for c in sorted(advised, key=lambda c: -c.action.rank)
        ]
        top = shelter.action
        title = (
            f"SHELTER IN {shelter.module} RECOMMENDED · {what}"
            if top == ShelterAction.RELOCATE
            else f"{top.value.upper()} · {what}"
        )
        since = gmt_text(shelter.since) if shelter.since is not None else "—"
        lines.append(f"advice since {since}")
        return BannerText(title, _ACTION_LEVEL[top], "\n".join(lines + facts))
    if shelter.recommended:
        # First what to do: who is still outside and what moving saves.
        where = {c.crew_id: c.module or "?" for c in snap.crew}
        outside = [
            f"{cid} in {where.get(cid, '?')} ({format_dose(v)})"
            for cid, v in shelter.per_crew
            if v > 0
        ]
        action = (
            f"Outside {shelter.module}: " + ", ".join(outside)
            if outside
            else f"All crew in {shelter.module}"
        )
        since = gmt_text(shelter.since) if shelter.since is not None else "—"
        first = (
            f"{action} · est. dose avoided in {shelter.horizon_h:g} h: "
            f"{format_dose(shelter.dose_avoided_msv)} · "
            f"since {since}: {shelter.reason}"
        )
        return BannerText(
            f"SHELTER IN {shelter.module} RECOMMENDED · {what}",
            BannerLevel.CRITICAL,
            "\n".join([first, " · ".join(facts)] if facts else [first]),
        )
    # During an event, say what the advice rests on even when it is "none".
    judged = (
        "shelter advice: none (every projected event dose is below the " "thresholds)"
        if shelter.crew
        else "shelter advice: at the first GOES sample the dose is integrated "
        "to (it rests on each person's projected event dose)"
    )
    if spe.active:
        return BannerText(
            f"SOLAR PARTICLE EVENT · S{spe.s_level}",
            s_banner_level(max(spe.s_level, 2)),
            "\n".join([" · ".join(facts), judged]),
        )
    if spe.energetic:
        return BannerText(
            "ENERGETIC PROTONS · >100 MeV ≥ 1 pfu",
            BannerLevel.WARNING,
            "\n".join([" · ".join(facts), judged]),
        )
    if spe.p10 == spe.p10:
        return BannerText(
            f"NO SPE · S{spe.s_level}",
            BannerLevel.NO_DATA,
            f"GOES >10 MeV {format_pfu(spe.p10)} pfu, "
            f">100 MeV {format_pfu(spe.p100)} pfu · "
            "no shelter advice",
        )
    return BannerText(
        "NO SPACE-WEATHER DATA", BannerLevel.STALE, "no GOES proton flux received"
    )
