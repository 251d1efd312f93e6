"""Protocol v1: bytes on the ZeroMQ bus <-> validated envelopes.

Encoding and decoding live side by side so publishers (simulator, replay) and
the subscriber cannot drift apart. The format is documented for third-party
publishers in ``docs/protocol.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np

PROTOCOL_VERSION: Final = 1
MAX_TOPIC_BYTES: Final = 128
# Fuzzing fix: without a bound on a channel name's length, the 2,000-channel
# bound on undeclared channels did not bound memory (one 60 MB name each).
MAX_NAME_CHARS: Final = 128
# Fuzzing fix: the archive stores seq as an SQLite INTEGER (signed 64-bit); a
# larger seq was accepted here and then could not be archived.
MAX_SEQ: Final = 2**63 - 1
# Fuzzing fix: one finite but absurd sample time (a clock in milliseconds,
# 1.7e12; or 1e300) made the dose engine integrate across centuries and
# exhausted memory. Sample times must lie in 1970..2106 (unsigned 32 bits).
MAX_TIME: Final = 2.0**32

Value = float | bool | str | None


class Envelope(msgspec.Struct, forbid_unknown_fields=False):
    """One message as published: ``t`` rows, ``ch`` columns of the same length.

    ``rec`` (optional, false when absent) says the rows are a recording sent
    again (``kibo-console replay``), not live telemetry: a console shows them
    in their own time, marked as recorded, and never writes them to the crew
    dose ledger. Without it, a row far older than the receive clock is an old
    row (a backlog), never "now".
    """

    v: int
    src: str
    seq: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
    t: list[float]
    ch: dict[str, list[Value]]
    rec: bool = False


_json_decoder: Final = msgspec.json.Decoder(Envelope)
_msgpack_decoder: Final = msgspec.msgpack.Decoder(Envelope)
_json_encoder: Final = msgspec.json.Encoder()
_msgpack_encoder: Final = msgspec.msgpack.Encoder()


class WireError(ValueError):
    """A message that is not valid protocol v1; ``reason`` is a short category."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded, validated message: one source, ``len(times)`` rows.

    ``columns`` keeps the raw per-channel lists (numbers, bools, enum strings,
    None); turning them into calibrated numbers is the decoder's job, which
    needs the dictionary.
    """

    family: str
    source: str
    seq: int
    times: np.ndarray
    columns: dict[str, list[Value]]
    encoding: Literal["json", "msgpack"]
    #: The publisher marked the rows as a recording sent again (``Envelope.rec``).
    recorded: bool = False

    @property
    def topic(self) -> str:
        return f"{self.family}.{self.source}"

    @property
    def rows(self) -> int:
        return int(self.times.shape[0])


def split_topic(topic: bytes) -> tuple[str, str]:
    """Return ``(family, source)`` from ``b"family.source"`` or raise WireError."""
    if len(topic) > MAX_TOPIC_BYTES:
        raise WireError("bad topic", f"topic is {len(topic)} bytes (max 128)")
    try:
        text = topic.decode("ascii")
    except UnicodeDecodeError:
        raise WireError("bad topic", f"topic is not ASCII: {topic[:40]!r}") from None
    family, dot, source = text.partition(".")
    if not dot or not family or not source or not text.isprintable() or " " in text:
        raise WireError("bad topic", f"topic {text!r} is not '<family>.<source_id>'")
    if "." in source:
        # A channel key is "<source>.<channel>", split at its first dot: a
        # source "ib2-a.x" sending "pos_x" was attributed to ib2-a (channel
        # "x.pos_x"), and two sources could make the same key.
        raise WireError(
            "bad topic", f"source id {source!r} contains '.' (topic {text!r})"
        )
    return family, source


def _locate_bad_value(payload: bytes, encoding: str) -> str:
    """Name the channel msgspec reports as ``$.ch[...]`` (only runs on errors)."""
    try:
        raw = (msgspec.json if encoding == "json" else msgspec.msgpack).decode(payload)
    # Deep nesting or a bad UTF-8 string further on: say nothing more.
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return ""
    channels = raw.get("ch") if isinstance(raw, dict) else None
    if not isinstance(channels, dict):
        return ""
    for name, column in channels.items():
        if not isinstance(column, list):
            return f" (at $.ch.{name})"
        for i, value in enumerate(column):
            if not isinstance(value, float | int | str | bool | None):
                return f" (at $.ch.{name}[{i}])"
    return ""


def decode_frame(parts: list[bytes]) -> Frame:
    """Validate a multipart message ``[topic, payload]`` and return its Frame.

    Raises
    ------
    WireError
        With a ``reason`` category (bad frame count, bad topic, bad encoding,
        unsupported version, source mismatch, length mismatch, bad time) and a
        detail saying where the problem is.
    """
    if len(parts) != 2:
        raise WireError("bad frame count", f"expected 2 frames, got {len(parts)}")
    topic, payload = parts
    family, source = split_topic(topic)
    if not payload:
        raise WireError("bad encoding", "empty payload")
    encoding: Literal["json", "msgpack"] = "json" if payload[:1] == b"{" else "msgpack"
    decoder = _json_decoder if encoding == "json" else _msgpack_decoder
    try:
        env = decoder.decode(payload)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if " - at `$" not in message and "missing required field" not in message:
            raise WireError(
                "bad encoding", f"{encoding}: payload is not a map: {message}"
            ) from None
        where = _locate_bad_value(payload, encoding) if "$.ch[...]" in message else ""
        raise WireError("bad field", f"{encoding}: {message}{where}") from None
    except msgspec.DecodeError as exc:
        raise WireError("bad encoding", f"{encoding}: {exc}") from None
    # Fuzzing fix: msgspec raises these (not DecodeError) for a string that is
    # not UTF-8 and for nesting deeper than the interpreter's recursion limit
    # inside a field the envelope does not declare; both used to escape as
    # crashes instead of being counted as rejected.
    except UnicodeDecodeError as exc:
        raise WireError(
            "bad encoding", f"{encoding}: string is not UTF-8 at byte {exc.start}"
        ) from None
    except RecursionError:
        raise WireError("bad encoding", f"{encoding}: nested too deeply") from None
    if env.v != PROTOCOL_VERSION:
        raise WireError("unsupported version", f"v={env.v}, this console reads v=1")
    if env.src != source:
        raise WireError("source mismatch", f"src {env.src!r} but topic {source!r}")
    rows = len(env.t)
    for name, column in env.ch.items():
        if len(name) > MAX_NAME_CHARS:
            raise WireError(
                "bad field",
                f"channel name of {len(name)} characters (max {MAX_NAME_CHARS}): "
                f"{name[:40]!r}...",
            )
        if len(column) != rows:
            raise WireError(
                "length mismatch",
                f"channel {name!r} has {len(column)} values for {rows} times",
            )
    times = np.asarray(env.t, dtype=np.float64)
    if rows and not np.isfinite(times).all():
        bad = int(np.flatnonzero(~np.isfinite(times))[0])
        raise WireError("bad time", f"t[{bad}] = {env.t[bad]!r} is not finite")
    if rows and not ((times >= 0.0) & (times < MAX_TIME)).all():
        bad = int(np.flatnonzero((times < 0.0) | (times >= MAX_TIME))[0])
        raise WireError(
            "bad time",
            f"t[{bad}] = {env.t[bad]!r} is not UTC seconds in 1970..2106 "
            "(milliseconds?)",
        )
    return Frame(family, source, env.seq, times, env.ch, encoding, env.rec)


def mark_recorded(payload: bytes) -> bytes:
    """Return ``payload`` with ``rec`` set: the rows are a recording sent again.

    Every other field is kept as it was (decoded and re-encoded generically,
    so fields this console does not know survive). A payload that does not
    decode as a map is returned unchanged: the receiving console rejects it
    with its reason, as it was rejected (or accepted) when recorded.
    """
    json = payload[:1] == b"{"
    try:
        body = (msgspec.json.decode if json else msgspec.msgpack.decode)(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return payload
    if not isinstance(body, dict):
        return payload
    body["rec"] = True
    return (_json_encoder if json else _msgpack_encoder).encode(body)


def _to_wire_list(column: Any) -> list[Any]:
    if isinstance(column, np.ndarray):
        if column.dtype.kind == "f":
            missing = np.isnan(column)
            if missing.any():
                boxed = column.astype(object)
                boxed[missing] = None
                return list(boxed.tolist())
        return list(column.tolist())
    return [None if isinstance(v, float) and math.isnan(v) else v for v in column]


def encode_frame(
    family: str,
    source: str,
    seq: int,
    times: list[float] | np.ndarray,
    columns: dict[str, Any],
    encoding: Literal["json", "msgpack"] = "msgpack",
) -> list[bytes]:
    """Build the multipart message ``[topic, payload]`` for one batch of rows.

    ``columns`` maps channel name to a sequence (list or numpy array) of the
    same length as ``times``; NaN floats are sent as null (not sampled).
    """
    t_list = times.tolist() if isinstance(times, np.ndarray) else list(times)
    ch: dict[str, list[Any]] = {}
    for name, column in columns.items():
        ch[name] = _to_wire_list(column)
    body = {"v": PROTOCOL_VERSION, "src": source, "seq": seq, "t": t_list, "ch": ch}
    encoder = _json_encoder if encoding == "json" else _msgpack_encoder
    return [f"{family}.{source}".encode("ascii"), encoder.encode(body)]
