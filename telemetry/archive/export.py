"""Archive export: one channel as CSV or JSON, several channels as a wide CSV.

Runs on the caller's thread (``kibo-console export``). Telemetry text (channel
keys, enum state names) is untrusted: CSV fields are quoted, formula-like text
is defused for spreadsheets, and control characters are escaped so that
printing an export never drives the terminal it is printed on.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import TextIO

    from telemetry.archive.reader import ArchiveReader, FloatArray
    from telemetry.archive.records import ChannelInfo

ExportFormat = Literal["csv", "json"]

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# C0 controls, DEL and C1 controls: ESC, CSI (U+009B), BEL, CR... would reach a
# terminal that prints the file. Shown as \xNN instead.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_C1: Final = re.compile("[\x7f-\x9f]")


def iso_utc(t: float) -> str | None:
    """Format UTC seconds as ``2024-11-24T01:02:03.456789Z`` (None if impossible)."""
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, ValueError, OSError):
        return None


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def csv_text(text: str) -> str:
    r"""Quote a text field for CSV, defusing formulas and escaping control characters.

    Fields starting with ``= + - @``, tab or CR get a leading ``'`` so a
    spreadsheet shows them as text (OWASP); control characters (C0, DEL, C1)
    become ``\xNN``; every text field is double-quoted.
    """
    if text.startswith(_FORMULA_START):
        text = "'" + text
    text = _CONTROL.sub(_escape_control, text)
    return '"' + text.replace('"', '""') + '"'


def json_text(value: object) -> str:
    r"""JSON for a file or a terminal: ``<>&`` and C1 controls as ``\uXXXX``.

    <, > and & only occur inside JSON strings, so escaping them keeps the
    document identical to a JSON parser while making it inert in HTML; json
    already escapes C0 controls, and C1 ones (CSI) are escaped the same way.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _channel(reader: ArchiveReader, key: str) -> ChannelInfo:
    try:
        return reader.channel(key)
    except KeyError:
        known = len(reader.channels())
        raise ValueError(
            f"{reader.path}: no channel {json_text(key)} in this archive "
            f"({known} channels; 'kibo-console info' lists its sources)"
        ) from None


def _state_names(info: ChannelInfo) -> dict[float, str]:
    names: dict[float, str] = {}
    for name, code in info.states.items():
        names.setdefault(float(code), name)
    return names


def _csv_value(v: float, names: dict[float, str]) -> str:
    state = names.get(v)
    if state is not None:
        return csv_text(state)
    return repr(v) if math.isfinite(v) else ""


def _window(
    reader: ArchiveReader, info: ChannelInfo, t0: float, t1: float
) -> Iterator[tuple[FloatArray, FloatArray]]:
    cid, span = reader.channel_span(info.key)
    return reader.iter_segments(cid, span, t0, t1)


def _bounds(t0: float | None, t1: float | None) -> tuple[float, float]:
    lo = -math.inf if t0 is None else float(t0)
    hi = math.inf if t1 is None else float(t1)
    if t0 is not None and t1 is not None and not lo < hi:
        raise ValueError(
            f"empty period: end {iso_utc(hi) or hi} is not after start "
            f"{iso_utc(lo) or lo}"
        )
    return lo, hi


def export_channel(
    reader: ArchiveReader,
    key: str,
    t0: float | None,
    t1: float | None,
    fmt: ExportFormat,
    out: TextIO,
) -> int:
    """Write one channel's samples in ``[t0, t1)`` to ``out``; return the count.

    CSV: header ``time,channel,value``; time as ISO-8601 UTC with
    microseconds and ``Z``; enum channels give the state name; text fields
    are quoted, formula-like text (``= + - @``) gets a leading ``'`` and
    control characters are escaped. JSON: ``{"channel", "unit", "states",
    "start", "end", "samples": [{"time", "t", "value"[, "code"]}]}`` with
    ``<>&`` escaped. ``None`` leaves a side of the range open; a period whose
    end is not after its start is refused (ValueError), as is an unknown
    channel. Non-finite values are written empty (CSV) or null (JSON).
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    lo, hi = _bounds(t0, t1)
    info = _channel(reader, key)
    names = _state_names(info)
    count = 0
    if fmt == "csv":
        out.write("time,channel,value\n")
        key_field = csv_text(key)
        for times, values in _window(reader, info, lo, hi):
            lines = [
                f"{iso_utc(t) or repr(t)},{key_field},{_csv_value(v, names)}\n"
                for t, v in zip(times.tolist(), values.tolist(), strict=True)
            ]
            out.write("".join(lines))
            count += len(lines)
        return count
    head = {
        "channel": key,
        "unit": info.unit,
        "states": info.states,
        "start": iso_utc(lo),
        "end": iso_utc(hi),
    }
    out.write(json_text(head)[:-1] + ', "samples": [')
    for times, values in _window(reader, info, lo, hi):
        parts = []
        for t, v in zip(times.tolist(), values.tolist(), strict=True):
            sample: dict[str, object] = {"time": iso_utc(t), "t": t}
            state = names.get(v)
            if state is not None:
                sample["value"] = state
                sample["code"] = int(v) if v.is_integer() else v
            else:
                sample["value"] = v if math.isfinite(v) else None
            parts.append(json_text(sample))
        if parts:
            out.write((",\n" if count else "\n") + ",\n".join(parts))
            count += len(parts)
    out.write("\n]}\n")
    return count


class _Stream:
    """One channel's sorted chunks, pulled as the merge needs them."""

    def __init__(self, chunks: Iterator[tuple[FloatArray, FloatArray]]) -> None:
        self.chunks = chunks
        self.t: FloatArray = np.empty(0)
        self.v: FloatArray = np.empty(0)
        self.done = False

    def fill(self) -> None:
        while not self.done and self.t.size == 0:
            try:
                self.t, self.v = next(self.chunks)
            except StopIteration:
                self.done = True

    def take(self, horizon: float) -> tuple[FloatArray, FloatArray]:
        cut = int(np.searchsorted(self.t, horizon, side="right"))
        t, v = self.t[:cut], self.v[:cut]
        self.t, self.v = self.t[cut:], self.v[cut:]
        return t, v


_OCCURRENCE: Final = np.dtype([("t", "<f8"), ("n", "<i8")])


def _occurrences(t: FloatArray) -> npt.NDArray[np.void]:
    """Key each sorted sample by (time, how many earlier samples share it).

    A channel with two samples at one time (a publisher that resent them)
    gets two rows there, so the wide export drops no sample; channels'
    first samples at a time share the first row.
    """
    out = np.empty(t.size, dtype=_OCCURRENCE)
    out["t"] = t
    out["n"] = np.arange(t.size) - np.searchsorted(t, t, side="left")
    return out


def export_wide(
    reader: ArchiveReader,
    keys: Sequence[str],
    t0: float | None,
    t1: float | None,
    out: TextIO,
) -> int:
    """Write several channels as CSV, one column each, one row per sample time.

    Header ``time,<key>,<key>...``; a row for every time at which any of the
    channels has a sample, the others left empty at that time (an outer join
    on exact times, so no value is invented or moved; a channel with two
    samples at one time gives two rows there). Channels are streamed
    and merged in time order, so memory stays bounded by a few pages of
    segments per channel whatever the period. Returns the number of rows.
    """
    lo, hi = _bounds(t0, t1)
    unique = list(dict.fromkeys(keys))
    if not unique:
        raise ValueError("give at least one --channel")
    infos = [_channel(reader, key) for key in unique]
    names = [_state_names(info) for info in infos]
    streams = [_Stream(_window(reader, info, lo, hi)) for info in infos]
    out.write("time," + ",".join(csv_text(k) for k in unique) + "\n")
    rows = 0
    while True:
        for s in streams:
            s.fill()
        live = [s for s in streams if s.t.size]
        if not live:
            return rows
        # Every sample up to the earliest chunk end is final: later chunks of
        # each stream start at or after their own chunk's end.
        horizon = (
            min(float(s.t[-1]) for s in live if not s.done)
            if any(not s.done for s in live)
            else math.inf
        )
        parts = [s.take(horizon) for s in streams]
        occurrences = [_occurrences(t) for t, _ in parts]
        grid = np.unique(np.concatenate(occurrences))
        columns: list[list[str]] = []
        for (_, v), occurrence, spec in zip(parts, occurrences, names, strict=True):
            column = [""] * grid.size
            where: list[int] = np.searchsorted(grid, occurrence).tolist()
            for i, value in zip(where, v.tolist(), strict=True):
                column[i] = _csv_value(value, spec)
            columns.append(column)
        stamps = [iso_utc(t) or repr(t) for t in grid["t"].tolist()]
        out.write(
            "".join(
                stamp + "," + ",".join(row) + "\n"
                for stamp, *row in zip(stamps, *columns, strict=True)
            )
        )
        rows += grid.size


__all__ = [
    "ExportFormat",
    "csv_text",
    "export_channel",
    "export_wide",
    "iso_utc",
    "json_text",
]
