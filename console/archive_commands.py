"""The archive subcommands (info, export) and how every command checks its inputs.

Runs on the main thread of a headless command; never imports Qt. Bad input
(an unusable file, a reversed period, a number that is not one) becomes a
``ValueError`` whose message names what and where; ``cli.main`` prints it as
one line and exits 2. Data a recorder could not archive is said on the last
line and in the exit status (``EXIT_DATA_LOST``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from telemetry.archive.reader import ArchiveReader
    from telemetry.archive.writer import ArchiveWriter
    from telemetry.bus.pipeline_feed import ReceiveLoss

EXIT_DATA_LOST: Final = 3
"""Exit status of a command that ran but could not archive everything it received."""


def finite_seconds(text: str) -> float:
    """Parse a duration in seconds: a finite number above zero (argparse type)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def finite_non_negative(text: str) -> float:
    """Parse a finite number, zero or more (argparse type)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def finite_positive(text: str) -> float:
    """Parse a finite number above zero (argparse type)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def real_time_or_faster(text: str) -> float:
    """Parse a simulator's ``--rate-scale``: a finite number, 1 or more (argparse type).

    A simulated clock slower than real time falls behind the receive clock,
    and consoles rightly show its data as arrived old; a recording is slowed
    down with ``--replay-speed`` instead.
    """
    value = _finite(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be 1 (real time) or more, got {text!r}: a slower simulated "
            "clock falls behind the receive clock and consoles show its data as "
            "arrived old (replay a recording with --replay-speed to slow it down)"
        )
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def check_period(start: float | None, end: float | None) -> None:
    """Refuse a period whose end is not after its start (every --start/--end)."""
    if start is not None and end is not None and not start < end:
        raise ValueError(
            f"empty period: --end {_utc(end)} is not after --start {_utc(start)}"
        )


def check_output(archive: Path, output: Path | None) -> None:
    """Refuse an ``--output`` that is the archive being read (it would be emptied)."""
    if output is None:
        return
    try:
        same = output.exists() and os.path.samefile(archive, output)
    except OSError:
        same = False
    if same:
        raise ValueError(f"--output {output} is the archive itself; give another file")


def _utc(t: float) -> str:
    from telemetry.archive.export import iso_utc

    return iso_utc(t) or repr(t)


def report_loss(
    archive: ArchiveWriter | None,
    stopped: bool,
    received: ReceiveLoss | None = None,
    other: Sequence[str] = (),
) -> int:
    """Say on stderr's last line what was lost; return the exit status.

    ``other``: further losses in words (training records never written).

    0 when everything received was processed and archived, ``EXIT_DATA_LOST``
    otherwise: messages this console dropped with its receive queue full
    (``received``), items the archive dropped with its queue full, lost to a
    failed write, or a writer that stopped with items unwritten.
    """
    if archive is not None and archive.checkpoint_error:
        print(
            f"kibo-console: warning: {archive.path}: {archive.checkpoint_error}",
            file=sys.stderr,
        )
    if archive is not None and archive.moved:
        print(f"kibo-console: warning: {archive.moved}", file=sys.stderr)
    # One last line for everything lost, so whoever reads only that line
    # (or a script keeping the last line) sees every loss.
    lost: list[str] = []
    if received:
        lost.append(received.summary().removeprefix("DATA LOST: "))
    if archive is not None:
        loss = archive.loss()
        if loss:
            what = loss.summary().removeprefix("DATA LOST: ")
            lost.append(f"{what} ({archive.path})")
        elif not stopped:
            lost.append(
                f"the archive {archive.path} did not close cleanly: "
                f"{archive.last_error or 'writer did not finish'}"
            )
    lost.extend(other)
    if not lost:
        return 0
    print(f"kibo-console: DATA LOST: {'; and '.join(lost)}", file=sys.stderr)
    return EXIT_DATA_LOST


def run_info(args: argparse.Namespace) -> int:
    """``kibo-console info``: summarise an archive (text or JSON)."""
    from telemetry.archive.reader import ArchiveReader

    with ArchiveReader(args.archive) as reader:
        info = reader.info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"archive {args.archive}")
    print(
        f"  channels {info['channels']}, samples {info['samples']}, "
        f"rejected {info['rejected']}"
    )
    for src, counts in sorted(info["sources"].items()):
        # Source names come from telemetry: escaped, never terminal controls.
        name = json.dumps(src, ensure_ascii=True)[1:-1]
        print(
            f"  {name:16} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``kibo-console export``: one channel (CSV/JSON) or several (``--wide`` CSV)."""
    from telemetry.archive.export import export_channel, export_wide
    from telemetry.archive.reader import ArchiveReader

    check_period(args.start, args.end)
    check_output(args.archive, args.output)
    channels: list[str] = args.channel
    if args.wide and args.format != "csv":
        raise ValueError("--wide writes CSV only (drop --format json)")
    if not args.wide and len(channels) > 1:
        raise ValueError("several --channel need --wide (one column per channel)")
    with ArchiveReader(args.archive) as reader:
        # Channels are checked before the output file is created.
        for key in channels:
            reader_has(reader, key)
        out = (
            args.output.open("w", newline="", encoding="utf-8")
            if args.output
            else sys.stdout
        )
        try:
            if args.wide:
                count = export_wide(reader, channels, args.start, args.end, out)
            else:
                count = export_channel(
                    reader, channels[0], args.start, args.end, args.format, out
                )
        finally:
            if out is not sys.stdout:
                out.close()
    if count == 0:
        what = ", ".join(json.dumps(c) for c in channels)
        print(f"kibo-console: no samples of {what} in that range", file=sys.stderr)
    return 0


def reader_has(reader: ArchiveReader, key: str) -> None:
    """Raise ValueError naming the archive when ``key`` is not one of its channels."""
    try:
        reader.channel(key)
    except KeyError:
        raise ValueError(
            f"{reader.path}: no channel {json.dumps(key)} in this archive "
            f"({len(reader.channels())} channels; 'kibo-console info' lists sources)"
        ) from None


__all__ = [
    "EXIT_DATA_LOST",
    "check_output",
    "check_period",
    "finite_non_negative",
    "finite_positive",
    "finite_seconds",
    "report_loss",
    "run_export",
    "run_info",
]
