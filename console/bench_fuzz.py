"""``kibo-console bench fuzz``: hostile frames through a real SUB socket.

Also ``python -m console.bench_fuzz [--frames N --seed S]``.

A reproducible mix of valid, malformed and hostile messages is classified by
a reference pipeline in-process, then sent over TCP to a ``LiveSession``
(subscriber, pipeline, dose engine, archive); every frame must arrive and be
accepted or rejected exactly as the reference says, and be archived.

Besides malformed bytes the mix holds the untrusted-publisher classes of
issue 14: a storm of invented sources (past their budget, while declared
sources keep flowing), time backlogs (samples hours older than what is held),
times far ahead of the receive clock, sequence numbers at the protocol's
extremes, dotted source ids, derived channels sent on the wire, negative
dose rates and enum numbers that are no state code.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import zmq

from telemetry.core.decoding import DERIVED_ON_WIRE
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import TIME_AHEAD, TOO_MANY_SOURCES
from telemetry.core.wire import MAX_SEQ
from telemetry.live.session import LiveSession, SessionConfig, build_derivers

if TYPE_CHECKING:
    from collections.abc import Callable

#: Frames of a run unless told otherwise (issue 7's target).
DEFAULT_FRAMES: Final = 100_000

#: Every ``WireError.reason`` the console may give (docs/protocol.md).
REJECT_REASONS: Final = frozenset(
    {
        "bad frame count",
        "bad topic",
        "bad encoding",
        "bad field",
        "unsupported version",
        "source mismatch",
        "length mismatch",
        "bad time",
        "bad value",
        "too many channels",
        TOO_MANY_SOURCES,
        DERIVED_ON_WIRE,
        TIME_AHEAD,  # live sessions only
    }
)

#: Strings that have broken other software: formulas, markup, SQL, controls,
#: bidi overrides, format specifiers, path tricks, astral and combining text.
HOSTILE_STRINGS: Final = (
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    '=HYPERLINK("http://evil.example/","x")',
    "\tTAB",
    "\rCR",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</td></tr></table><h1>pwned</h1>",
    "&amp;&lt;",
    "'; DROP TABLE samples; --",
    "Robert'); DROP TABLE channels;--",
    "%s%s%n%x{0}{}",
    "../../../../etc/passwd",
    "\x00nul",
    "\x1b[31mred\x1b[0m",
    "\u202egnp.exe",
    "\ufeffbom",
    "𝕂𝕚𝕓𝕠 🚀",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "a.b.c",
    "",
    " ",
    "x" * 128,  # the longest channel name and invented state allowed
)

_CATEGORIES: Final = (
    # (name, weight): most traffic is valid, as on a real bus.
    ("valid", 40),
    ("hostile names", 6),
    ("truncated", 6),
    ("flipped", 6),
    ("junk", 4),
    ("one frame", 2),
    ("three frames", 2),
    ("bad topic", 3),
    ("nan time", 3),
    ("inf value", 2),
    ("bad version", 2),
    ("src mismatch", 2),
    ("length mismatch", 3),
    ("bad enum", 3),
    ("string in numeric", 3),
    ("wrong type", 3),
    ("deep nesting", 2),
    ("invalid utf-8", 2),
    ("huge seq", 2),
    # Issue 14: untrusted publishers.
    ("invented source", 4),
    ("time backlog", 3),
    ("time ahead", 2),
    ("seq extremes", 2),
    ("dotted source", 1),
    ("derived on wire", 1),
    ("negative rate", 1),
    ("enum non-code", 1),
)
#: Categories whose messages may be accepted (the others must be refused).
MAY_BE_VALID: Final = frozenset(
    {"valid", "hostile names", "flipped", "invented source", "time backlog",
     "seq extremes"}
)  # fmt: skip
# Undeclared names come from a small pool: each one costs a ring buffer
# (capacity x 32 bytes) in the console, so the bench stays far below
# MAX_UNDECLARED_CHANNELS and measures the decoder, not that bound.
_HOSTILE_SOURCES: Final = ("ib2-a", "jpm")
_T0: Final = 1.75e9


def deep_msgpack(depth: int) -> bytes:
    """Return MessagePack for ``depth`` nested one-element arrays around nil."""
    return b"\x91" * depth + b"\xc0"


class HostileFrames:
    """Deterministic generator of messages, mostly valid, many hostile.

    Owned by the thread that calls :meth:`make` (it keeps per-source seq
    counters and a random state).
    """

    def __init__(
        self, dictionary: TelemetryDictionary, seed: int, received: float = _T0
    ) -> None:
        self.rng = random.Random(seed)
        self.received = received  # the run's receive clock (``_receive_time``)
        self._invented = 0
        self.dictionary = dictionary
        self._seq: dict[str, int] = {}
        self._sources = sorted(dictionary.sources.items())
        self._names, weights = zip(*_CATEGORIES, strict=True)
        self._weights = list(weights)
        self._clock = _T0

    def make(self) -> tuple[str, list[bytes]]:
        """Return ``(category, parts)`` for the next message."""
        category = self.rng.choices(self._names, self._weights)[0]
        maker: Callable[[], list[bytes]] = getattr(
            self, "_" + category.replace(" ", "_").replace("-", "_")
        )
        return category, maker()

    # -------------------------------------------------------------- building

    def _envelope(
        self, source_id: str | None = None, rows: int | None = None
    ) -> tuple[bytes, dict[str, Any]]:
        rng = self.rng
        if source_id is None:
            source_id, spec = rng.choice(self._sources)
        else:
            spec = self.dictionary.sources[source_id]
        rows = rng.randint(1, 10) if rows is None else rows
        times = [self._clock + i * 0.01 for i in range(rows)]
        self._clock += rows * 0.01
        columns: dict[str, list[Any]] = {}
        measured = [
            c for c in self.dictionary.families[spec.family].values() if not c.derived
        ]
        for channel in rng.sample(measured, min(len(measured), rng.randint(1, 4))):
            if channel.states:
                names = list(channel.states)
                columns[channel.name] = [rng.choice(names) for _ in range(rows)]
            else:
                low, high = channel.display_range or (0.0, 100.0)
                columns[channel.name] = [rng.uniform(low, high) for _ in range(rows)]
        seq = self._seq.get(source_id, 0)
        self._seq[source_id] = seq + 1
        env = {"v": 1, "src": source_id, "seq": seq, "t": times, "ch": columns}
        return f"{spec.family}.{source_id}".encode(), env

    def _encode(self, env: dict[str, Any]) -> bytes:
        if self.rng.random() < 0.3:
            return msgspec.json.encode(env)
        return msgspec.msgpack.encode(env)

    def _valid(self) -> list[bytes]:
        topic, env = self._envelope()
        return [topic, self._encode(env)]

    def _hostile_names(self) -> list[bytes]:
        topic, env = self._envelope(self.rng.choice(_HOSTILE_SOURCES))
        rows = len(env["t"])
        for name in self.rng.sample(HOSTILE_STRINGS, 2):
            states = [self.rng.choice(HOSTILE_STRINGS[:12]) for _ in range(rows)]
            env["ch"][name] = states
        return [topic, self._encode(env)]

    def _truncated(self) -> list[bytes]:
        topic, env = self._envelope()
        body = msgspec.msgpack.encode(env)
        return [topic, body[: self.rng.randrange(len(body))]]

    def _flipped(self) -> list[bytes]:
        # The outcome is unknown (a flip in a float is still a float): the
        # reference pipeline decides what the console must do.
        topic, env = self._envelope()
        body = bytearray(self._encode(env))
        for _ in range(self.rng.randint(1, 3)):
            body[self.rng.randrange(len(body))] ^= self.rng.randint(1, 255)
        return [topic, bytes(body)]

    def _junk(self) -> list[bytes]:
        topic, _ = self._envelope()
        return [topic, self.rng.randbytes(self.rng.randint(0, 64))]

    def _one_frame(self) -> list[bytes]:
        return [self._valid()[0]]

    def _three_frames(self) -> list[bytes]:
        return [*self._valid(), b""]

    def _bad_topic(self) -> list[bytes]:
        _, body = self._valid()
        topic = self.rng.choice(
            [
                b"",
                b"nodot",
                b"robot.ib2 a",
                "robot.ïb2".encode(),
                b"robot." + b"a" * 200,
                self.rng.choice(HOSTILE_STRINGS[:12]).encode(),
            ]
        )
        return [topic, body]

    def _nan_time(self) -> list[bytes]:
        topic, env = self._envelope()
        env["t"][self.rng.randrange(len(env["t"]))] = self.rng.choice(
            [math.nan, math.inf, -math.inf]
        )
        return [topic, msgspec.msgpack.encode(env)]

    def _inf_value(self) -> list[bytes]:
        topic, env = self._envelope()
        env["ch"]["x_inf"] = [math.inf] * len(env["t"])
        return [topic, msgspec.msgpack.encode(env)]

    def _bad_version(self) -> list[bytes]:
        topic, env = self._envelope()
        env["v"] = self.rng.choice([0, 2, 99])
        return [topic, self._encode(env)]

    def _src_mismatch(self) -> list[bytes]:
        topic, env = self._envelope()
        env["src"] = env["src"] + "-x"
        return [topic, self._encode(env)]

    def _length_mismatch(self) -> list[bytes]:
        topic, env = self._envelope(rows=self.rng.randint(2, 10))
        name = next(iter(env["ch"]))
        env["ch"][name] = env["ch"][name][:-1]
        return [topic, self._encode(env)]

    def _bad_enum(self) -> list[bytes]:
        topic, env = self._envelope("ib2-a", rows=1)
        env["ch"] = {"mode": [self.rng.choice(HOSTILE_STRINGS[:12])]}
        return [topic, self._encode(env)]

    def _string_in_numeric(self) -> list[bytes]:
        topic, env = self._envelope("jpm", rows=1)
        env["ch"] = {"ppco2": [self.rng.choice(HOSTILE_STRINGS[:12])]}
        return [topic, self._encode(env)]

    def _wrong_type(self) -> list[bytes]:
        topic, env = self._envelope()
        field, value = self.rng.choice(
            [
                ("t", "now"),
                ("ch", [1, 2]),
                ("seq", -5),
                ("seq", 1.5),
                ("src", 7),
                ("v", "1"),
                ("ch", {"pos_x": [[1.0]] * len(env["t"])}),
                ("ch", {"pos_x": [{"a": 1}] * len(env["t"])}),
            ]
        )
        env[field] = value
        return [topic, msgspec.msgpack.encode(env)]

    def _deep_nesting(self) -> list[bytes]:
        topic, env = self._envelope()
        body = msgspec.msgpack.encode(env)
        # One more key in the top-level map (fixmap count + 1) holding the nest.
        return [
            topic,
            bytes([body[0] + 1]) + body[1:] + b"\xa1z" + deep_msgpack(50_000),
        ]

    def _invalid_utf_8(self) -> list[bytes]:
        topic, env = self._envelope()
        body = msgspec.msgpack.encode(env)
        src = msgspec.msgpack.encode(env["src"])
        return [topic, body.replace(src, src[:1] + b"\xff" * (len(src) - 1), 1)]

    def _huge_seq(self) -> list[bytes]:
        topic, env = self._envelope()
        env["seq"] = 2**63 + self.rng.randrange(2**62)
        return [topic, msgspec.msgpack.encode(env)]

    # ------------------------------------------------ issue 14: untrusted

    def _invented_source(self) -> list[bytes]:
        # Each one a new name: past the budget they are refused, and the
        # declared sources of the "valid" category keep being accepted.
        self._invented += 1
        source = f"inv{self._invented}"
        rows = self.rng.randint(1, 5)
        times = [self._clock + i * 0.01 for i in range(rows)]
        env = {"v": 1, "src": source, "seq": 0, "t": times, "ch": {"x": [1.0] * rows}}
        return [f"zz.{source}".encode(), self._encode(env)]

    def _time_backlog(self) -> list[bytes]:
        # The dump after a loss of signal: hours older than what is held.
        topic, env = self._envelope()
        back = self.rng.uniform(3600.0, 86_400.0)
        env["t"] = [t - back for t in env["t"]]
        return [topic, self._encode(env)]

    def _time_ahead(self) -> list[bytes]:
        topic, env = self._envelope()
        ahead = self.rng.uniform(301.0, 30 * 86_400.0)
        env["t"] = [self.received + ahead + i for i in range(len(env["t"]))]
        return [topic, self._encode(env)]

    def _seq_extremes(self) -> list[bytes]:
        topic, env = self._envelope()
        env["seq"] = self.rng.choice([0, 1, MAX_SEQ - 1, MAX_SEQ, 2**53 + 1, 2**32])
        return [topic, self._encode(env)]

    def _dotted_source(self) -> list[bytes]:
        topic, env = self._envelope("ib2-a")
        env["src"] = "ib2-a.x"
        return [b"robot.ib2-a.x", self._encode(env)]

    def _derived_on_wire(self) -> list[bytes]:
        topic, env = self._envelope("c1", rows=1)
        env["ch"] = {self.rng.choice(["dose_career", "career_fraction"]): [0.0]}
        return [topic, self._encode(env)]

    def _negative_rate(self) -> list[bytes]:
        topic, env = self._envelope("tepc-uslab", rows=1)
        env["ch"] = {"absorbed_rate": [-self.rng.uniform(0.1, 100.0)]}
        return [topic, self._encode(env)]

    def _enum_non_code(self) -> list[bytes]:
        topic, env = self._envelope("ib2-a", rows=1)
        env["ch"] = {"nav_status": [self.rng.choice([-1, 4, 99, 2**40])]}
        return [topic, self._encode(env)]


def hostile_messages(
    count: int, seed: int, dictionary: TelemetryDictionary
) -> list[tuple[str, list[bytes]]]:
    """Return ``count`` ``(category, parts)`` messages (same seed, same list)."""
    frames = HostileFrames(dictionary, seed, _receive_time(count))
    return [frames.make() for _ in range(count)]


@dataclass
class FuzzResult:
    """What one bench run measured; returned to the caller's thread."""

    sent: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    expected_rejected: int = 0
    internal_errors: int = 0
    archived_frames: int = 0
    archived_rejected: int = 0
    seconds: float = math.nan
    max_rss_mib: float = math.nan
    rss_before_mib: float = math.nan  # messages made, before the session starts
    session_peak_mib: float = math.nan  # peak while the session ran (Linux)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else math.nan


def max_rss_mib() -> float:
    """Return this process's peak resident set size in MiB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_mib(field: str) -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def _reset_peak() -> None:
    """Make VmHWM the current RSS (Linux), so the next peak is the session's."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _receive_time(count: int) -> float:
    """Return the one receive time of a run: after every sample it generates.

    The reference and the live session both see it (a constant clock), so a
    rule that depends on the receive clock, such as a live session refusing
    sample times far ahead of it, is predicted exactly and the run does not
    depend on today's date. A message holds at most 10 rows 0.01 s apart.
    """
    return _T0 + 0.1 * count


def _expected_rejections(
    messages: list[tuple[str, list[bytes]]], dictionary: TelemetryDictionary
) -> int:
    received = _receive_time(len(messages))
    # A live session's own pipeline, never started (no socket, no archive):
    # whatever rules a live session applies, the reference applies too.
    reference = LiveSession(
        dictionary,
        SessionConfig([], None, buffer_capacity=16),
        build_derivers(dictionary),
        clock=lambda: received,
    )
    pipeline = reference.pipeline
    for category, parts in messages:
        result = pipeline.ingest(parts, received)
        if category not in MAY_BE_VALID and result is not None:
            raise AssertionError(f"bench generator: a {category!r} message was valid")
    return pipeline.store.rejected_total


def run_fuzz_bench(
    frames: int = DEFAULT_FRAMES,
    seed: int = 1,
    directory: Path | None = None,
    timeout_s: float = 300.0,
) -> FuzzResult:
    """Send ``frames`` hostile messages to a live session over TCP and check them.

    Raises
    ------
    TimeoutError
        If the session does not process every message within ``timeout_s``.
    """
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    messages = hostile_messages(frames, seed, dictionary)
    result = FuzzResult(sent=len(messages))
    for category, _ in messages:
        result.by_category[category] = result.by_category.get(category, 0) + 1
    result.expected_rejected = _expected_rejections(messages, dictionary)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        ctx = zmq.Context()
        pub = ctx.socket(zmq.XPUB)
        pub.setsockopt(zmq.SNDHWM, 0)  # nothing may be dropped on this side
        pub.setsockopt(zmq.LINGER, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        received = _receive_time(len(messages))
        session = LiveSession(
            dictionary,
            SessionConfig([f"tcp://127.0.0.1:{port}"], Path(tmp) / "fuzz.sqlite"),
            build_derivers(dictionary),
            clock=lambda: received,  # as the reference's (the watchdog idles)
        )
        result.rss_before_mib = _status_mib("VmRSS")
        _reset_peak()
        try:
            session.start()
            if not pub.poll(10_000):
                raise TimeoutError("the session did not subscribe")
            pub.recv()
            store = session.store
            started = time.perf_counter()
            for _, parts in messages:
                pub.send_multipart(parts)
            deadline = time.monotonic() + timeout_s

            def done() -> int:
                return store.rejected_total + sum(
                    s.messages for s in list(store.sources.values())
                )

            while done() < len(messages):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"processed {done()} of {len(messages)} in {timeout_s} s"
                    )
                time.sleep(0.01)  # a bench, not a test: plain polling is fine
            result.seconds = time.perf_counter() - started
            result.session_peak_mib = _status_mib("VmHWM")
        finally:
            session.stop()
            pub.close(linger=0)
            ctx.term()
        result.received = session.subscriber.received
        result.internal_errors = session.subscriber.internal_errors
        result.rejected = store.rejected_total
        result.accepted = sum(s.messages for s in store.sources.values())
        result.by_reason = dict(sorted(store.rejected_by_reason.items()))
        result.archived_frames, result.archived_rejected = _archived_counts(
            Path(tmp) / "fuzz.sqlite"
        )
    result.max_rss_mib = max_rss_mib()
    return result


def _archived_counts(path: Path) -> tuple[int, int]:
    """Return (frames, rejected messages) in the archive, read-only.

    Counted directly: the figures the bench checks are these two counts, and
    the run's extreme sequence numbers are the archive readers' own subject.
    """
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        frames = int(db.execute("SELECT count(*) FROM frames").fetchone()[0])
        rejected = int(db.execute("SELECT count(*) FROM rejected").fetchone()[0])
    finally:
        db.close()
    return frames, rejected


def print_fuzz(r: FuzzResult) -> bool:
    """Print a run's figures; return whether every frame went where predicted."""
    print(f"  frames sent / received      {r.sent} / {r.received}")
    print(f"  rate                        {r.frames_per_s:,.0f} frames/s")
    print(f"  accepted / rejected         {r.accepted} / {r.rejected}")
    print(f"  expected rejected           {r.expected_rejected}")
    print(f"  archived frames / rejected  {r.archived_frames} / {r.archived_rejected}")
    print(f"  internal errors             {r.internal_errors}")
    print(f"  max RSS                     {r.max_rss_mib:.0f} MiB")
    print(
        f"  RSS before session / peak   {r.rss_before_mib:.0f} / "
        f"{r.session_peak_mib:.0f} MiB (messages held in memory for the run)"
    )
    for reason, n in r.by_reason.items():
        print(f"    {reason:24} {n}")
    ok = (
        r.received == r.sent
        and r.rejected == r.expected_rejected
        and r.internal_errors == 0
        and r.archived_frames == r.accepted
        and r.archived_rejected == r.rejected
    )
    print(f"  verdict                     {'ok' if ok else 'FRAMES WENT ASTRAY'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures (exit 1 if any frame went astray)."""
    parser = argparse.ArgumentParser(prog="python -m console.bench_fuzz")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return 0 if print_fuzz(run_fuzz_bench(args.frames, args.seed)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
