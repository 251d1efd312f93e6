"""``kibo-console import --rosbag``: a ROS 1 or ROS 2 bag -> a replayable archive.

ROS 1 bags (``.bag``) and ROS 2 bags (a directory with ``metadata.yaml``,
sqlite3 or mcap storage) are read with rosbags. Int-Ball2 topics map as the
bridge maps them (``mapping``); every other topic whose definition the bag
carries becomes undeclared numeric channels. Rows go through a real
Pipeline into an ArchiveWriter in time order, one message per second of bag
time, so the file opens in ``--replay`` and works with ``info``,
``export``, ``dose-report`` and ``handover`` like a recorded session.
Sample time is the bag's record time, but for the ground bridge's own
topics (``communication_software/Telemetry``: ``telemetry_intball2``,
``telemetry_dock``), whose per-id bytes are decoded as the bridge decodes a
datagram, at the header's timestamp (the dock's: the ground receive time).
Runs on the caller's thread.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag2 import Reader as Reader2

from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.pipeline import (
    CLOCK_SLACK_S,
    DEFAULT_TICK_S,
    EARLIEST_SAMPLE_TIME,
    Pipeline,
)
from telemetry.core.wire import encode_frame
from telemetry.ib2.dock import decode_dock
from telemetry.ib2.downlink import ChannelBound, DownlinkDecoder, columns_of
from telemetry.ib2.mapping import RobotMapper, Values
from telemetry.ib2.messages import ib2_typestore, msg_type, register_msgdef
from telemetry.ib2.transform import FrameTransform

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from rosbags.interfaces import Connection
    from rosbags.typesys.store import Typestore

    from telemetry.core.deriver import Deriver
    from telemetry.core.dictionary import TelemetryDictionary

#: Seconds of bag time per published message.
BATCH_S: Final = 1.0
#: Sample seconds after which a gap has outrun every link timeout.
TICK_GAP_S: Final = 600.0
#: JAXA's ground bridge's record of one datagram (int-ball2-downlink.md 4).
GROUND_TELEMETRY: Final = "communication_software/msg/Telemetry"
_DOCK_ROW: Final = 2  # Message.DOCK_ROW_BINARY_DATA


class BagError(ValueError):
    """A path that is not a bag rosbags can read; the message says which and why."""


@dataclass(slots=True)
class ImportStats:
    """What an import did, for the command's report; the importing thread's."""

    messages: int = 0
    frames: int = 0
    rows: int = 0
    topics: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    refused_channels: int = 0


class _Bag:
    """An open bag of either ROS version; owned by the importing thread."""

    def __init__(self, path: Path) -> None:
        self.ros2 = path.is_dir()
        if not self.ros2 and path.suffix != ".bag":
            raise BagError(
                f"{path}: not a ROS 1 bag (FILE.bag) or a ROS 2 bag (a directory "
                "with metadata.yaml)"
            )
        try:
            self.reader: Reader1 | Reader2 = (
                Reader2(path) if self.ros2 else Reader1(path)
            )
            self.reader.open()
        except Exception as exc:  # rosbags' own errors, I/O, a broken file
            raise BagError(f"{path}: cannot read the bag: {exc}") from None
        self.store: Typestore = ib2_typestore(ros2=self.ros2)

    def close(self) -> None:
        self.reader.close()

    def usable(self, conn: Connection) -> bool:
        """Register a connection's type if needed; False if it cannot be read."""
        name = msg_type(conn.msgtype)
        if name in self.store.fielddefs:
            return True
        if not conn.msgdef.data:
            return False
        try:
            register_msgdef(self.store, conn.msgdef.data, name)
        except Exception:  # a definition rosbags cannot parse: that topic only
            return False
        return name in self.store.fielddefs

    def messages(
        self, conns: Sequence[Connection]
    ) -> Iterator[tuple[Connection, int, bytes]]:
        yield from self.reader.messages(connections=conns)

    def deserialize(self, raw: bytes, msgtype: str) -> object:
        name = msg_type(msgtype)
        if self.ros2:
            return self.store.deserialize_cdr(raw, name)
        return self.store.deserialize_ros1(raw, name)


def import_bag(
    path: Path,
    archive: Path,
    dictionary: TelemetryDictionary,
    *,
    source: str = "ib2",
    dock_source: str = "ib2-dock",
    derivers: Sequence[Deriver] = (),
    progress: Callable[[int, int], None] | None = None,
    operator: str = "import",
) -> ImportStats:
    """Import the bag at ``path`` into a new archive; return what was done.

    ``progress(done, total)`` is called as messages are read. Raises
    ``BagError`` for a path that is not a readable bag (before the archive
    is created) and ``RuntimeError`` if the archive cannot be written.
    """
    if archive.exists():
        raise BagError(f"{archive}: exists; an import writes a new archive")
    if not archive.parent.is_dir():
        raise BagError(f"{archive}: no such directory {archive.parent}")
    bag = _Bag(path)
    stats = ImportStats()
    try:
        conns = []
        for conn in bag.reader.connections:
            if bag.usable(conn):
                conns.append(conn)
            else:
                stats.skipped[f"no definition: {conn.topic} ({conn.msgtype})"] += 1
        total = sum(c.msgcount for c in conns)
        writer = ArchiveWriter(
            archive,
            dictionary_sha256=dictionary.sha256,
            dictionary_version=dictionary.version,
            kind="imported",
            operator=operator,
            queue_bytes=1 << 40,  # in process: never drop, the import waits
        )
        alarms = AlarmBook(on_action=writer.put_action, operator=operator)
        pipeline = Pipeline(
            dictionary,
            ChannelStore(),
            alarms,
            writer,
            derivers,
            earliest_time=EARLIEST_SAMPLE_TIME,
            clock_slack_s=CLOCK_SLACK_S,
        )
        families = {source: "robot", dock_source: "dock"}
        for sid in families:
            if sid in dictionary.sources:
                families[sid] = dictionary.sources[sid].family
        writer.start()
        try:
            run = _Run(bag, pipeline, families, source, dock_source, stats)
            run.all(conns, total, progress)
        finally:
            if not writer.stop(timeout=120.0):
                raise RuntimeError(f"writing {archive} failed: {writer.last_error}")
        stats.rejected = sum(s.rejected for s in pipeline.store.sources.values())
    finally:
        bag.close()
    return stats


class _Run:
    """One import's state: rows per source batched by bag time; the caller's thread."""

    def __init__(
        self,
        bag: _Bag,
        pipeline: Pipeline,
        families: dict[str, str],
        source: str,
        dock_source: str,
        stats: ImportStats,
    ) -> None:
        self.bag = bag
        self.pipeline = pipeline
        self.families = families
        self.source = source
        self.dock_source = dock_source
        self.stats = stats
        self.mapper = RobotMapper(FrameTransform.load())
        self.decoder = DownlinkDecoder(transform=self.mapper.transform)
        self.bound = ChannelBound()
        self.rows: dict[str, dict[float, Values]] = {source: {}, dock_source: {}}
        self.seq = dict.fromkeys(self.rows, 0)
        self.next_tick = -math.inf

    def all(
        self,
        conns: Sequence[Connection],
        total: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        stats = self.stats
        batch_end = -math.inf
        for conn, stamp_ns, raw in self.bag.messages(conns):
            t = stamp_ns * 1e-9
            if t >= batch_end:
                self.flush()
                batch_end = t + BATCH_S
            stats.messages += 1
            try:
                message = self.bag.deserialize(raw, conn.msgtype)
                if msg_type(conn.msgtype) == GROUND_TELEMETRY:
                    self.ground(message)
                else:
                    self.add(self.source, t, self.mapper.map(conn.topic, message))
            except Exception:  # one corrupt message: skip it, keep the rest
                stats.skipped[f"bad message: {conn.topic}"] += 1
                continue
            stats.topics[conn.topic] += 1
            if progress is not None and (
                stats.messages % 500 == 0 or stats.messages == total
            ):
                progress(stats.messages, total)
        self.flush()
        if self.next_tick != -math.inf:
            self.pipeline.tick(self.next_tick)

    def add(self, source: str, t: float, values: Values) -> None:
        if values:
            self.rows[source].setdefault(t, {}).update(values)

    def ground(self, message: Any) -> None:
        """Decode a ground bridge record as the bridge decodes its datagram."""
        received = message.received_time.sec + message.received_time.nanosec * 1e-9
        items = {int(m.id): bytes(m.data) for m in message.data}
        if any(int(m.msg_type) == _DOCK_ROW for m in message.data):
            for m in message.data:
                self.add(self.dock_source, received, dict(decode_dock(bytes(m.data))))
            return
        part = self.decoder.part_of(items)
        for t, values in self.decoder.decode(part).rows.items():
            self.add(self.source, t, values)

    def flush(self) -> None:
        for source, rows in self.rows.items():
            if not rows:
                continue
            self.bound.admit(source, rows)
            self.stats.refused_channels = self.bound.refused
            times, columns = columns_of(rows)
            last = times[-1]
            if self.next_tick == -math.inf:
                self.next_tick = times[0]
            gap_from = self.next_tick
            while self.next_tick < last:
                self.pipeline.tick(self.next_tick)
                self.next_tick += DEFAULT_TICK_S
                if self.next_tick - gap_from > TICK_GAP_S:
                    # Every link timeout has run out: no tick changes anything
                    # until data is back. (A stamp of 0 would otherwise tick
                    # from 1970, once a second, for decades.)
                    self.next_tick = max(self.next_tick, last - DEFAULT_TICK_S)
            self.seq[source] += 1
            self.stats.frames += 1
            self.stats.rows += len(times)
            family = self.families[source]
            parts = encode_frame(family, source, self.seq[source], times, columns)
            self.pipeline.ingest(parts, last)
            rows.clear()
