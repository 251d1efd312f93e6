"""Graded shelter-advice thresholds, as data (``resources/shelter_advice.toml``).

Loaded once at start-up, read-only afterwards (any thread may share them).
A bad file fails with ``file: key: what is wrong``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from telemetry.core.dictionary import REPO_ROOT
from telemetry.radiation.estimator.model import ShelterAction

DEFAULT_SHELTER_RULES: Final = REPO_ROOT / "resources" / "shelter_advice.toml"


class ShelterRulesError(ValueError):
    """The shelter-advice file is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class ActionRule:
    """One grade: the action and the event dose (E, mSv) or margin fraction."""

    action: ShelterAction
    event_msv: float
    margin_fraction: float
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class ShelterRules:
    """Projection settings and the grades, mildest first."""

    path: Path
    version: str
    orbit_average_s: float
    horizon_h: float
    min_history_s: float
    actions: tuple[ActionRule, ...]
    source: str

    @classmethod
    def load(cls, path: Path | str = DEFAULT_SHELTER_RULES) -> ShelterRules:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ShelterRulesError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ShelterRulesError(f"{path}: not valid TOML: {exc}") from None

        def number(table: object, key: str, where: str) -> float:
            value = table.get(key) if isinstance(table, dict) else None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ShelterRulesError(
                    f"{path}: {where}.{key}: must be a number > 0, got {value!r}"
                )
            return float(value)

        meta = data.get("meta", {})
        proj = data.get("projection", {})
        actions: list[ActionRule] = []
        names = {a.value: a for a in ShelterAction if a != ShelterAction.NONE}
        for i, raw in enumerate(data.get("actions", [])):
            where = f"actions[{i}]"
            name = raw.get("action") if isinstance(raw, dict) else None
            if name not in names:
                raise ShelterRulesError(
                    f"{path}: {where}.action: must be one of {sorted(names)}, "
                    f"got {name!r}"
                )
            rule = ActionRule(
                names[name],
                number(raw, "event_msv", where),
                number(raw, "margin_fraction", where),
                str(raw.get("source", "")),
                str(raw.get("status", "D")),
            )
            if actions and (
                rule.action.rank <= actions[-1].action.rank
                or rule.event_msv <= actions[-1].event_msv
                or rule.margin_fraction <= actions[-1].margin_fraction
            ):
                raise ShelterRulesError(
                    f"{path}: {where}: actions must be mildest first, with "
                    "increasing event_msv and margin_fraction"
                )
            actions.append(rule)
        if not actions:
            raise ShelterRulesError(f"{path}: actions: at least one is needed")
        return cls(
            path,
            str(meta.get("version", "0")),
            number(proj, "orbit_average_min", "projection") * 60.0,
            number(proj, "horizon_h", "projection"),
            number(proj, "min_history_min", "projection") * 60.0,
            tuple(actions),
            str(proj.get("source", "")),
        )

    def grade(self, event_msv: float, fraction: float) -> ActionRule | None:
        """Return the strongest grade reached (None: no action)."""
        reached = [
            r
            for r in self.actions
            if event_msv >= r.event_msv or fraction >= r.margin_fraction
        ]
        return reached[-1] if reached else None
