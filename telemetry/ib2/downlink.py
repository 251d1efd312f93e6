"""One Int-Ball2 telemetry datagram -> header, messages and rows of channel values.

A datagram is a restricted-unpickled dict of telemetry id -> ROS 1 bytes
(``unpickler``), with header ids 0-4 (timestamp, last executed command,
split number, split index, sending-port index). Each known id is
deserialised with rosbags from the ``resources/ib2`` definitions and mapped
to channels (``mapping``). Like JAXA's ground bridge, one bad item is dropped
(and counted) and the rest kept; a datagram whose pickle or header is bad is
refused whole. Owned by the bridge thread (it remembers each service
response's timestamp so a response resent every cycle is published once).
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from telemetry.ib2.mapping import RobotMapper, Values
from telemetry.ib2.messages import ib2_typestore, msg_type
from telemetry.ib2.table import TelemetryTable
from telemetry.ib2.transform import FrameTransform
from telemetry.ib2.unpickler import PickleRefused, load_telemetry

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

# Header value sizes: std_msgs/Time (secs, nsecs), UInt16, UInt8 x 3.
_HEADER_SIZES: Final = {
    "timestamp": 8,
    "last_executed_command": 2,
    "split_number": 1,
    "current_split_index": 1,
    "sending_port_index": 1,
}
_TIME: Final = struct.Struct("<II")
#: Last executed command of a sender that does not execute commands.
NO_COMMAND_REPORT: Final = 0xFFFF


@dataclass(slots=True)
class DownlinkPart:
    """One datagram's header and data items (id -> ROS 1 bytes); decoding thread."""

    timestamp: float
    last_command: int
    split_number: int
    split_index: int
    port_index: int
    items: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class Rows:
    """Channel values per sample time (one protocol v1 message); decoding thread."""

    rows: dict[float, Values] = field(default_factory=dict)

    def add(self, time: float, values: Values) -> None:
        self.rows.setdefault(time, {}).update(values)


class DownlinkDecoder:
    """Datagrams -> rows; counts what it drops. Owned by one thread."""

    def __init__(
        self,
        table: TelemetryTable | None = None,
        transform: FrameTransform | None = None,
        typestore: Typestore | None = None,
    ) -> None:
        self.table = table if table is not None else TelemetryTable.load()
        self.mapper = RobotMapper(
            transform if transform is not None else FrameTransform.load()
        )
        self.typestore = typestore if typestore is not None else ib2_typestore()
        #: Items dropped from accepted datagrams, by reason.
        self.dropped: Counter[str] = Counter()
        self._response_stamps: dict[int, float] = {}

    def part(self, data: bytes) -> DownlinkPart:
        """Unpickle and check one datagram's header; raise ``PickleRefused`` if bad."""
        return self.part_of(load_telemetry(data))

    def part_of(self, items: dict[int, bytes]) -> DownlinkPart:
        """Check the header of an id -> bytes dict (a datagram's, a ground record's)."""
        items = dict(items)
        values: dict[str, int | float] = {}
        for name, size in _HEADER_SIZES.items():
            tid = self.table.header[name]
            raw = items.pop(tid, None)
            if raw is None or len(raw) != size:
                got = "missing" if raw is None else f"{len(raw)} bytes"
                raise PickleRefused(
                    "bad header", f"id {tid} ({name}) is {got}, expected {size} bytes"
                )
            if name == "timestamp":
                secs, nsecs = _TIME.unpack(raw)
                if nsecs >= 1_000_000_000:
                    raise PickleRefused(
                        "bad header", f"timestamp nsecs {nsecs} is not below 1e9"
                    )
                values[name] = secs + nsecs * 1e-9
            else:
                values[name] = int.from_bytes(raw, "little")
        part = DownlinkPart(
            float(values["timestamp"]),
            int(values["last_executed_command"]),
            int(values["split_number"]),
            int(values["current_split_index"]),
            int(values["sending_port_index"]),
            items,
        )
        if not 1 <= part.split_index <= part.split_number:
            raise PickleRefused(
                "bad header",
                f"split index {part.split_index} of {part.split_number} parts",
            )
        return part

    def decode(self, part: DownlinkPart) -> Rows:
        """Return the part's channel values by sample time (the header's timestamp).

        A service response with an appended timestamp gets its own row at
        that time, once (the robot resends it every cycle).
        """
        out = Rows()
        row: Values = {
            "downlink.split_number": float(part.split_number),
            "downlink.split_index": float(part.split_index),
            "downlink.port_index": float(part.port_index),
        }
        # The minimal telemetry publisher sends 0xFFFF: not a command report
        # (taken as one, the last command would flip every 3 s).
        if part.last_command != NO_COMMAND_REPORT:
            row["last_cmd"] = float(part.last_command)
        out.add(part.timestamp, row)
        for tid, raw in part.items.items():
            entry = self.table.ids.get(tid)
            if entry is None:
                self.dropped["unknown id"] += 1
                continue
            if not entry.type:
                self.dropped["no definition"] += 1
                continue
            time = part.timestamp
            if entry.add_timestamp:
                if len(raw) < _TIME.size:
                    self.dropped["bad message"] += 1
                    continue
                secs, nsecs = _TIME.unpack(raw[-_TIME.size :])
                raw = raw[: -_TIME.size]
                time = secs + nsecs * 1e-9
                if self._response_stamps.get(tid) == time:
                    continue
                self._response_stamps[tid] = time
            message = self.message(raw, entry.type)
            if message is None:
                continue
            element = ""
            if entry.element >= 0:
                # The table names the element's naming field (an alive
                # status's topic name); without one, its index names it.
                named = getattr(message, entry.key, "") if entry.key else ""
                element = str(named or entry.element)
            out.add(time, self.mapper.map(entry.topic, message, element))
        return out

    def message(self, raw: bytes, typename: str) -> object | None:
        """Deserialise ROS 1 bytes, or count the item as a bad message and return None.

        The bytes must be exactly one message: rosbags reads what it needs, so
        the message is serialised again and compared by length.
        """
        name = msg_type(typename)
        try:
            message = self.typestore.deserialize_ros1(raw, name)
            if len(self.typestore.serialize_ros1(message, name)) != len(raw):
                raise ValueError("length differs")
        except Exception:  # rosbags raises what the bytes make it raise
            self.dropped["bad message"] += 1
            return None
        return message


#: Distinct channel names one bridge or import publishes per source. Below the
#: console's bound on undeclared channels (2,000), so that a robot (or a
#: forged datagram) naming new alive statuses without end loses only the new
#: names, never the whole feed to "too many channels" at every console.
MAX_CHANNELS: Final = 1500


class ChannelBound:
    """Admits at most ``MAX_CHANNELS`` undeclared names per source; one thread's."""

    def __init__(self, limit: int = MAX_CHANNELS) -> None:
        self.limit = limit
        self.names: dict[str, set[str]] = {}
        self.refused = 0

    def admit(self, source: str, rows: dict[float, Values]) -> None:
        """Remove from ``rows`` the names beyond the bound (counted in ``refused``)."""
        known = self.names.setdefault(source, set())
        for values in rows.values():
            for name in list(values):
                # Mapped channels (pos_x, mode, ...) have no dot and always
                # pass; undeclared ones are "<topic>.<field>".
                if name in known or "." not in name:
                    continue
                if len(known) >= self.limit:
                    del values[name]
                    self.refused += 1
                else:
                    known.add(name)


def columns_of(
    rows: dict[float, Values],
) -> tuple[list[float], dict[str, list[float | bool | None]]]:
    """Return (sorted times, columns) of rows; None where a row lacks a channel."""
    times = sorted(rows)
    names: dict[str, None] = {}
    for t in times:
        names.update(dict.fromkeys(rows[t]))
    columns = {name: [rows[t].get(name) for t in times] for name in names}
    return times, columns
