"""A live session: subscriber -> pipeline -> store, alarms and archive, with no GUI.

The headless recorder runs one; the console runs one behind its windows. It
owns the start and stop order of the threads (subscriber first, archive last,
so everything received is flushed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telemetry.alarms import AlarmBook
from telemetry.archive import ArchiveWriter
from telemetry.channels import DEFAULT_CAPACITY, ChannelStore
from telemetry.pipeline import Deriver, Pipeline
from telemetry.subscriber import CurveConfig, SubscriberConfig, ZmqSubscriber

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from telemetry.dictionary import TelemetryDictionary


@dataclass
class SessionConfig:
    """What a live session connects to and where it records."""

    endpoints: Sequence[str]
    archive_path: Path | None
    topics: Sequence[str] = ("",)
    buffer_capacity: int = DEFAULT_CAPACITY
    operator: str = ""
    curve: CurveConfig | None = None
    max_message_bytes: int | None = None
    archive_options: dict[str, int] = field(default_factory=dict)


class LiveSession:
    """Wires the core threads together; created and stopped by the main thread.

    Threads: ``zmq-subscriber`` (socket, pipeline, store writes) and
    ``archive-writer`` (SQLite). ``stop()`` joins both.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        config: SessionConfig,
        derivers: Sequence[Deriver] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dictionary = dictionary
        self.config = config
        self.clock = clock
        self.store = ChannelStore(config.buffer_capacity)
        self.archive: ArchiveWriter | None = None
        if config.archive_path is not None:
            self.archive = ArchiveWriter(
                config.archive_path,
                dictionary_sha256=dictionary.sha256,
                dictionary_version=dictionary.version,
                kind="live",
                operator=config.operator,
                **config.archive_options,
            )
        self.alarms = AlarmBook(
            on_action=self.archive.put_action if self.archive else None,
            operator=config.operator,
        )
        self.pipeline = Pipeline(
            dictionary, self.store, self.alarms, self.archive, derivers
        )
        sub_config = SubscriberConfig(
            config.endpoints, config.topics, curve=config.curve
        )
        if config.max_message_bytes is not None:
            sub_config.max_message_bytes = config.max_message_bytes
        self.subscriber = ZmqSubscriber(
            sub_config, self.pipeline.ingest, self.pipeline.tick, clock=clock
        )
        self._started = False

    def start(self) -> None:
        if self.archive is not None:
            self.archive.start()
        self.subscriber.start()
        self._started = True

    def stop(self) -> None:
        """Stop receiving, then flush and close the archive (idempotent)."""
        self.subscriber.stop()
        if self.archive is not None:
            self.archive.stop()
        self._started = False


def build_derivers(
    dictionary: TelemetryDictionary,
    roster_path: Path | None = None,
    limits_path: Path | None = None,
) -> list[Deriver]:
    """Return the derived-channel engines every session runs (the dose estimator).

    Raises ``RosterError`` naming file, line and entry when the roster or the
    limits are wrong, so the console never starts half-configured.
    """
    from telemetry.estimator import DoseEstimator
    from telemetry.roster import (
        DEFAULT_LIMITS,
        DEFAULT_ROSTER,
        load_limits,
        load_roster,
    )

    limits = load_limits(limits_path or DEFAULT_LIMITS)
    roster = load_roster(roster_path or DEFAULT_ROSTER, limits)
    return [DoseEstimator(dictionary, roster, limits)]
