"""The XPUB publisher: waits for a subscriber, delivers in order, paces by time."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import zmq

from telemetry.bus.publisher import Pacer, PublishStats, RawMessage, publish
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.wire import decode_frame
from telemetry.faults.injection import FaultPlanError
from telemetry.sim.publishing import run_simulator
from telemetry.sim.simulator import SimFrame, Simulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

T0 = 1_750_000_000.0
ANY_PORT = "tcp://127.0.0.1:*"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def wait(self, seconds: float) -> bool:
        """Pacer-style wait: sleep, never interrupted."""
        self.sleep(seconds)
        return False


class Subscriber:
    """A SUB socket in its own context, closed by the fixture."""

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.socket: zmq.Socket[bytes] = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")

        self.arrivals: list[float] = []

    def receive(self, count: int, timeout_s: float = 10.0) -> list[list[bytes]]:
        deadline = time.monotonic() + timeout_s
        out: list[list[bytes]] = []
        while len(out) < count and (left := deadline - time.monotonic()) > 0:
            if self.socket.poll(int(left * 1000) + 1):
                out.append(self.socket.recv_multipart())
                self.arrivals.append(time.monotonic())
        return out

    def close(self) -> None:
        self.socket.close()
        self.context.term()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    yield sub
    sub.close()


class Background:
    """Runs ``publish``-like work on a thread; the test joins it."""

    def __init__(self, work: Callable[[Callable[[str], None]], PublishStats]) -> None:
        self.endpoints: queue.Queue[str] = queue.Queue()
        self.result: PublishStats | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.result = work(self.endpoints.put)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, name="test-publisher")
        self.thread.start()

    def endpoint(self) -> str:
        return self.endpoints.get(timeout=5.0)

    def join(self, timeout_s: float = 10.0) -> PublishStats:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "publisher did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.fixture(scope="module")
def frames() -> list[SimFrame]:
    sim = Simulator(TelemetryDictionary.load(), 9, "nominal", start_time=T0)
    return list(sim.frames_until(T0 + 20))


def test_waits_for_the_subscription_then_delivers_everything_in_order(
    subscriber: Subscriber, frames: list[SimFrame]
) -> None:
    job = Background(
        lambda on_bound: publish(
            frames, ANY_PORT, speed=None, wait_for_subscriber=10.0, on_bound=on_bound
        )
    )
    subscriber.socket.connect(job.endpoint())
    received = subscriber.receive(len(frames))
    stats = job.join()
    # Nothing was lost to the slow joiner: the first message arrived too.
    assert len(received) == len(frames) == stats.messages
    assert stats.rows == sum(f.rows for f in frames)
    assert stats.endpoint.startswith("tcp://127.0.0.1:")
    decoded = [decode_frame(parts) for parts in received]
    assert [(d.source, d.seq) for d in decoded] == [(f.source, f.seq) for f in frames]
    np.testing.assert_array_equal(decoded[-1].times, frames[-1].times)


def test_raw_messages_go_out_byte_for_byte(
    subscriber: Subscriber, frames: list[SimFrame]
) -> None:
    raw = [RawMessage(float(f.times[-1]), f.encode("json")) for f in frames[:5]]
    job = Background(
        lambda on_bound: publish(
            raw, ANY_PORT, speed=None, wait_for_subscriber=10.0, on_bound=on_bound
        )
    )
    subscriber.socket.connect(job.endpoint())
    assert subscriber.receive(5) == [m.parts for m in raw]
    assert job.join().messages == 5


def test_no_subscriber_is_a_timeout(frames: list[SimFrame]) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="no subscriber"):
        publish(frames, ANY_PORT, wait_for_subscriber=0.2)
    assert time.monotonic() - start < 2.0


def test_stop_event_ends_an_endless_paced_run_promptly() -> None:
    stop = threading.Event()
    sim = Simulator(TelemetryDictionary.load(), 1, start_time=T0)
    job = Background(
        lambda on_bound: publish(
            sim.frames_until(float("inf")),
            ANY_PORT,
            speed=1.0,
            stop_event=stop,
            wait_for_subscriber=None,
            on_bound=on_bound,
        )
    )
    job.endpoint()
    stop.set()
    start = time.monotonic()
    stats = job.join(timeout_s=5.0)
    assert stats.stopped
    assert time.monotonic() - start < 2.0


def test_stop_event_also_ends_the_wait_for_a_subscriber(frames: list[SimFrame]) -> None:
    stop = threading.Event()
    job = Background(
        lambda on_bound: publish(
            frames,
            ANY_PORT,
            stop_event=stop,
            wait_for_subscriber=30.0,
            on_bound=on_bound,
        )
    )
    job.endpoint()
    stop.set()
    stats = job.join(timeout_s=5.0)
    assert stats.stopped
    assert stats.messages == 0


def test_pacer_holds_each_message_until_its_sample_time_is_due() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, clock, clock.wait)
    sent_at = []
    for sample_time in (100.0, 101.0, 101.0, 103.5):
        assert pacer.hold(sample_time)
        sent_at.append(clock.now - 1000.0)
    assert sent_at == [0.0, 0.5, 0.5, 1.75]
    assert clock.sleeps == [0.5, 1.25]


def test_pacer_sends_late_messages_at_once_and_keeps_its_anchor() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock, clock.wait)
    assert pacer.hold(0.0)
    clock.now += 5.0  # the producer stalled for 5 s
    for sample_time in (1.0, 2.0, 3.0):
        assert pacer.hold(sample_time)
    assert clock.sleeps == []
    assert pacer.hold(6.0)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_pacer_stops_when_the_wait_is_interrupted() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock, lambda s: True)
    assert pacer.hold(0.0)
    assert not pacer.hold(10.0)


def test_pacer_without_speed_never_waits() -> None:
    pacer = Pacer(None, lambda: 0.0, lambda s: pytest.fail("waited"))
    assert all(pacer.hold(t) for t in (0.0, 100.0, 50.0))
    with pytest.raises(ValueError, match="speed"):
        Pacer(0.0)


def test_publish_paces_by_sample_time_over_speed(frames: list[SimFrame]) -> None:
    clock = FakeClock()
    stats = publish(
        frames,
        ANY_PORT,
        speed=4.0,
        wait_for_subscriber=None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert stats.messages == len(frames)
    span = float(frames[-1].times[-1] - frames[0].times[-1])
    assert clock.now - 1000.0 == pytest.approx(span / 4.0)
    assert all(s > 0 for s in clock.sleeps)


def test_run_simulator_publishes_a_scenario_in_real_time(
    subscriber: Subscriber,
) -> None:
    job = Background(
        lambda on_bound: run_simulator(
            bind=ANY_PORT,
            seed=3,
            duration=1.0,
            rate_scale=20.0,
            scenario="co2-rise",
            wait_for_subscriber=10.0,
            on_bound=on_bound,
        )
    )
    subscriber.socket.connect(job.endpoint())
    # One 20-s batch: a message per source (receive while it is published).
    expected = len(
        Simulator(TelemetryDictionary.load(), 3, "co2-rise", 20.0, T0).step()
    )
    received = [decode_frame(p) for p in subscriber.receive(expected)]
    stats = job.join()
    assert len(received) == stats.messages == expected
    families = {f.family for f in received}
    assert families == {"robot", "eclss", "rad", "crew", "orbit", "spacewx"}
    # 1 s of wall time at 20x: one 20-s batch, 20 rows of each 1 Hz source.
    robot_rows = sum(f.rows for f in received if f.source == "ib2-a")
    assert robot_rows == 20
    # Paced at 20x: the last rows (19 s in) follow the first message (whose
    # last row is the 10-s dosimeter read-out) by 9 / 20 s.
    first = min(float(f.times[-1]) for f in received)
    last = max(float(f.times[-1]) for f in received)
    assert last - first == 9.0
    spread = subscriber.arrivals[-1] - subscriber.arrivals[0]
    assert spread == pytest.approx(9.0 / 20.0, abs=0.2)


def test_run_simulator_rejects_bad_arguments_before_binding(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        run_simulator(bind=ANY_PORT, scenario="nope")
    with pytest.raises(ValueError, match="rate_scale"):
        run_simulator(bind=ANY_PORT, rate_scale=-1.0)
    short = tmp_path / "short.key_secret"
    short.write_text("abc\n")
    short.chmod(0o600)
    with pytest.raises(ValueError, match="40 Z85 characters"):
        run_simulator(bind=ANY_PORT, curve_secret=short)
    faults = tmp_path / "faults.toml"
    faults.write_text('[[fault]]\nkind = "silent"\nsource = "nobody"\n')
    with pytest.raises(FaultPlanError, match="faults.toml"):
        run_simulator(bind=ANY_PORT, faults=faults)


def test_run_simulator_applies_a_fault_scenario(
    subscriber: Subscriber, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\nkind = "silent"\nsource = "goes"\n\n'
        '[[fault]]\nkind = "stuck"\nchannel = "jpm.ppco2"\nat = 0\n'
    )
    job = Background(
        lambda on_bound: run_simulator(
            bind=ANY_PORT,
            seed=3,
            duration=0.5,
            rate_scale=20.0,
            faults=faults,
            wait_for_subscriber=10.0,
            on_bound=on_bound,
        )
    )
    subscriber.socket.connect(job.endpoint())
    # One 20-s batch, one message per source but GOES (silenced).
    expected = len(Simulator(TelemetryDictionary.load(), 3, "nominal", 20.0, T0).step())
    received = [decode_frame(p) for p in subscriber.receive(expected - 1)]
    assert job.join().messages == expected - 1
    assert "goes" not in {f.source for f in received}
    jpm = next(f for f in received if f.source == "jpm")
    assert len(set(jpm.columns["ppco2"])) == 1  # stuck at its first value


def test_curve_publisher_talks_only_to_clients_with_its_key(
    subscriber: Subscriber, tmp_path: Path
) -> None:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    secret_file = tmp_path / "publisher.key_secret"
    secret_file.write_bytes(server_secret + b"\n")
    secret_file.chmod(0o600)  # a secret others may read is refused
    subscriber.socket.curve_secretkey = client_secret
    subscriber.socket.curve_publickey = client_public
    subscriber.socket.curve_serverkey = server_public
    job = Background(
        lambda on_bound: run_simulator(
            bind=ANY_PORT,
            duration=0.2,
            rate_scale=5.0,
            curve_secret=secret_file,
            wait_for_subscriber=10.0,
            on_bound=on_bound,
        )
    )
    subscriber.socket.connect(job.endpoint())
    first = subscriber.receive(1)
    job.join()
    assert len(first) == 1
    assert decode_frame(first[0]).family in {
        "robot",
        "eclss",
        "rad",
        "crew",
        "orbit",
        "spacewx",
    }


def test_curve_publisher_ignores_a_plain_subscriber(
    subscriber: Subscriber, frames: list[SimFrame]
) -> None:
    _public, secret = zmq.curve_keypair()
    job = Background(
        lambda on_bound: publish(
            frames,
            ANY_PORT,
            wait_for_subscriber=0.5,
            on_bound=on_bound,
            curve_secret_key=secret,
        )
    )
    subscriber.socket.connect(job.endpoint())
    # No handshake, no subscription: the publisher never sees it.
    with pytest.raises(TimeoutError):
        job.join()
    assert subscriber.receive(1, timeout_s=0.1) == []
