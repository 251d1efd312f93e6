"""Training debrief page: expected responses, the trainee's actions and times.

The evaluation (which action answered which alarm onset) is
``telemetry.replay.training``; this module only lays it out, from
``templates/debrief.html`` (autoescaped). Runs on the caller's thread.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry.core.severity import Severity
from telemetry.core.text import utc_text
from telemetry.replay.training import (
    describe_controls,
    evaluate_responses,
    load_expectations,
    read_training_log,
    replay_during,
    unacknowledged_alarms,
)
from telemetry.reports.pages import render_page

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.replay.training import Expectation, TrainingRecord

_STATUSES = ("on time", "late", "missed", "alarm not raised")


def _offset(t: float | None, origin: float) -> str:
    """``T+H:MM:SS`` from the replayed session's start (what a trainer reads)."""
    if t is None or not math.isfinite(t):
        return ""
    s = t - origin
    sign = "-" if s < 0 else "+"
    s = abs(s)
    return f"T{sign}{int(s // 3600):d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"


def _level(value: int) -> str:
    try:
        return Severity(value).name
    except ValueError:
        return str(value)


def _value(value: float | None) -> str:
    return f"{value:g}" if value is not None and math.isfinite(value) else ""


def render_debrief(
    record: TrainingRecord,
    expectations: Sequence[Expectation],
    scenario: str = "",
) -> str:
    """Return the debrief as a self-contained HTML page (every string escaped)."""
    responses, unexpected = evaluate_responses(record, expectations)
    origin = record.replay_start
    done = [r.response_s for r in responses if r.response_s is not None]
    mean = sum(done) / len(done) if done else math.nan
    return render_page(
        "debrief.html",
        {
            "record": record,
            "scenario": scenario,
            "responses": responses,
            "unexpected": unexpected,
            "counts": {
                s: sum(1 for r in responses if r.status == s) for s in _STATUSES
            },
            "mean_response": f"{mean:.0f} s" if math.isfinite(mean) else "n/a",
            "never_acked": unacknowledged_alarms(record),
            "raised": [tr for tr in record.transitions if tr.severity > tr.previous],
            "driven": (
                replay_during(record.controls, -math.inf, math.inf) or "at 1×, no skips"
            )
            if record.controls_recorded
            else "not recorded (a training log from an older console)",
            "controls": describe_controls(record),
            "offset": lambda t: _offset(t, origin),
            "wall": lambda t: utc_text(t, ""),
            "level": _level,
            "value": _value,
        },
    )


def write_debrief_report(
    training_log: str | Path,
    scenario_expectations: str | Path,
    output: str | Path | None = None,
    *,
    session: int | None = None,
) -> str:
    """Write the debrief of a training run as self-contained HTML; return the page.

    Parameters
    ----------
    training_log : str or Path
        The training log (``telemetry.replay.training.SCHEMA``).
    scenario_expectations : str or Path
        The scenario TOML whose ``[[expect]]`` entries list the responses.
    output : str or Path, optional
        Where to write the page; standard output when None.
    session : int, optional
        Training session id in the log; the latest by default.
    """
    record = read_training_log(training_log, session)
    expectations = load_expectations(scenario_expectations)
    page = render_debrief(record, expectations, str(scenario_expectations))
    if output is None:
        sys.stdout.write(page)
    else:
        Path(output).write_text(page, encoding="utf-8")
    return page
