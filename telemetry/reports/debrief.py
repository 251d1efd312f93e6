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
from telemetry.replay.passage import clock_text, t_plus
from telemetry.replay.training import (
    STATUSES,
    describe_controls,
    evaluate_responses,
    load_expectations,
    read_training_log,
    run_summary,
    unacknowledged_alarms,
)
from telemetry.reports.pages import render_page

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.replay.training import Expectation, TrainingRecord


def _offset(t: float | None, origin: float) -> str:
    """``T+H:MM:SS`` from the replayed session's start (what a trainer reads)."""
    return "" if t is None else t_plus(t, origin)


def _reached(record: TrainingRecord) -> str:
    """Which replay time the run got to (the deadlines it could be scored on)."""
    path = record.path()
    where = _offset(path.end, record.replay_start)
    if path.furthest > path.end:  # went back before the end
        where += f" (furthest {_offset(path.furthest, record.replay_start)})"
    if path.end_recorded:
        if record.ended is None:
            return f"{where} (last logged; the run was not closed)"
        return where
    if not math.isfinite(path.end):
        return "not recorded (a training log from an older console)"
    return (
        f"at least {where}: the log does not say where the run ended (an "
        "older console, or one that stopped); responses due later are scored "
        "\u201cnot reached\u201d"
    )


def _span(seconds: float | None) -> str:
    return "" if seconds is None else clock_text(seconds)


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
            "counts": {s: sum(1 for r in responses if r.status == s) for s in STATUSES},
            "mean_response": f"{mean:.0f} s" if math.isfinite(mean) else "n/a",
            "never_acked": unacknowledged_alarms(record),
            "raised": [tr for tr in record.transitions if tr.severity > tr.previous],
            "driven": run_summary(record),
            "reached": _reached(record),
            "controls": describe_controls(record),
            "offset": lambda t: _offset(t, origin),
            "wall": lambda t: utc_text(t, ""),
            "level": _level,
            "value": _value,
            "span": _span,
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
