"""What a reader returns: immutable records of one archived row each; any thread."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One archived channel: metadata and the extent of its samples."""

    key: str
    source: str
    name: str
    unit: str
    declared: bool
    derived: bool
    states: dict[str, int]
    samples: int
    t_first: float | None
    t_last: float | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One recording session (a writer's lifetime); ``ended`` None = crashed."""

    id: int
    started: float
    ended: float | None
    kind: str
    dictionary_sha256: str
    dictionary_version: str
    operator: str
    console_version: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An archived event (gap, restart, link, archive_overflow, SPE, ...)."""

    time: float
    source: str | None
    kind: str
    detail: str
    severity: int
    count: int | None
    session: int


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """An archived limit transition."""

    time: float
    key: str
    severity: int
    previous: int
    value: float | None
    threshold: float | None
    kind: str
    session: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An archived operator action."""

    time: float
    operator: str
    action: str
    target: str
    comment: str
    session: int


@dataclass(frozen=True, slots=True)
class BookmarkRecord:
    """An archived bookmark."""

    time: float
    author: str
    text: str
    session: int


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A rejected message as received (``body`` cut to ``MAX_REJECTED_BODY``)."""

    received: float
    topic: bytes
    source: str | None
    reason: str
    detail: str
    length: int
    body: bytes
    session: int


__all__ = [
    "ActionRecord",
    "BookmarkRecord",
    "ChannelInfo",
    "EventRecord",
    "RejectedRecord",
    "SessionRecord",
    "TransitionRecord",
]
