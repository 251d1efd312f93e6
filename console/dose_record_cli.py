"""``kibo-console dose-record``: bring passive-dosimeter readouts into the dose ledger.

``import`` reads a readout CSV (one dose of record per crew member and
period), puts each beside the ledger's estimate for the same period with the
bias, and adopts it into the ledger (the estimate stays beside it); ``show``
lists the records with their bias and the calendar- and fiscal-year totals.
Runs on the main thread of the command.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry.core.units import format_dose, format_percent, utc_text
from telemetry.radiation.dose_record import (
    CSV_COLUMNS,
    RecordComparison,
    adopt,
    read_readouts,
    year_totals,
)
from telemetry.radiation.ledger import LEDGER_NAME, DoseLedger, LedgerError
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    load_limits,
    load_roster,
)

if TYPE_CHECKING:
    import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dose-record import|show`` to the command line."""
    parser = sub.add_parser(
        "dose-record",
        help="dose of record: import passive-dosimeter readouts into the dose ledger",
    )
    parser.add_argument("action", choices=["import", "show"])
    parser.add_argument(
        "file",
        type=Path,
        nargs="?",
        help=f"readout CSV for import, columns {', '.join(CSV_COLUMNS)} "
        "(times ISO 8601, UTC; quantity H or E, default H)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--ledger", type=Path, help="the dose ledger file")
    where.add_argument(
        "--data-dir",
        type=Path,
        help=f"the console's data directory (its {LEDGER_NAME}; default: the "
        "console's own)",
    )
    parser.add_argument(
        "--no-adopt",
        action="store_true",
        help="keep the readouts beside the estimate without adopting them",
    )
    parser.add_argument("--roster", type=Path, help="crew roster (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def ledger_path(args: argparse.Namespace) -> Path:
    """Return the ledger the command works on (``--ledger``, ``--data-dir``)."""
    if args.ledger is not None:
        return Path(args.ledger)
    if args.data_dir is not None:
        return Path(args.data_dir) / LEDGER_NAME
    from console.config import default_dose_ledger

    return default_dose_ledger()


def run(args: argparse.Namespace) -> int:
    """Import or show doses of record; 2 with a one-line error when refused."""
    path = ledger_path(args)
    roster_path = args.roster or DEFAULT_ROSTER
    roster = load_roster(roster_path, load_limits(DEFAULT_LIMITS))
    if args.action == "import" and args.file is None:
        raise ValueError("dose-record import needs the readout CSV file")
    if args.action == "show" and not path.exists():
        raise ValueError(f"{path}: no dose ledger there")
    try:
        ledger = DoseLedger(
            path,
            roster_version=roster.version,
            roster_sha256="",
            bin_s=roster.estimator.rolling_bin_s,
            opened=time.time(),
        )
    except LedgerError as exc:
        print(f"kibo-console: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "import":
            readings = read_readouts(args.file, (m.id for m in roster.crew))
            added, repeats = ledger.add_records(
                readings,
                adopt_records=not args.no_adopt,
                source=str(args.file),
                imported=time.time(),
            )
            comparisons = added
        else:
            comparisons = ledger.comparisons()
            repeats = 0
        records = ledger.records()
        estimate = ledger.estimate_bins()
        adopted = [r.reading for r in records if r.adopted]
        years = year_totals(estimate, adopt(estimate, adopted, ledger.bin_s), adopted)
    except LedgerError as exc:
        print(f"kibo-console: error: {exc}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    if args.json:
        print(
            json.dumps(
                {
                    "ledger": str(path),
                    "records": [c.to_json() for c in comparisons],
                    "repeats_skipped": repeats,
                    "years": [y.to_json() for y in years],
                },
                indent=2,
            )
        )
        return 0
    verb = "imported" if args.action == "import" else "in"
    print(f"{len(comparisons)} dose(s) of record {verb} {path}", file=sys.stderr)
    if repeats:
        print(f"{repeats} already imported, skipped", file=sys.stderr)
    for c in comparisons:
        print(_line(c))
    for y in years:
        print(
            f"{y.crew_id} {y.label}: {format_dose(y.total_msv)} "
            f"(estimate {format_dose(y.estimate_msv)}, "
            f"of record {format_dose(y.record_msv)})"
        )
    return 0


def _line(c: RecordComparison) -> str:
    """``c1 2026-01-01 .. 2026-04-01: record H 45.0 mSv, estimate ..., bias ...``."""
    period = f"{utc_text(c.start)} to {utc_text(c.end)}"
    if c.estimate_msv is None:
        beside = "no estimate in the ledger for that period"
    else:
        bias = c.bias_msv if c.bias_msv is not None else float("nan")
        frac = c.bias_fraction
        beside = (
            f"estimate {format_dose(c.estimate_msv, quantity='H')} "
            f"(covers {format_percent(c.covered_fraction)}), "
            f"bias {'+' if bias >= 0 else '-'}{format_dose(abs(bias))}"
            + (f" ({frac * 100:+.1f} %)" if frac is not None else "")
        )
    state = "adopted" if c.adopted else "beside the estimate"
    return (
        f"{c.crew_id} {period} [{c.dosimeter}]: record "
        f"{format_dose(c.record_msv, quantity=c.quantity)}; {beside}; {state}"
    )
