"""The subscriber with real sockets on 127.0.0.1."""

import threading
import time
from collections.abc import Iterator

import pytest
import zmq
from polling import wait_for

from telemetry.bus.subscriber import SubscriberConfig, ZmqSubscriber, listen_endpoint
from telemetry.core.wire import encode_frame


@pytest.fixture
def xpub() -> Iterator[tuple[zmq.Socket[bytes], str]]:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, f"tcp://127.0.0.1:{port}"
    sock.close(linger=0)


def test_receives_in_order_and_filters_topics(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    pub, endpoint = xpub
    got: list[list[bytes]] = []
    sub = ZmqSubscriber(
        SubscriberConfig([endpoint], topics=["robot."]), lambda p, r: got.append(p)
    )
    sub.start()
    try:
        assert pub.poll(5000), "no subscription arrived"
        assert pub.recv() == b"\x01robot."
        for seq in range(100):
            pub.send_multipart(
                encode_frame("robot", "ib2-a", seq, [float(seq)], {"x": [1.0]})
            )
            pub.send_multipart(
                encode_frame("eclss", "jpm", seq, [float(seq)], {"x": [1.0]})
            )
        wait_for(lambda: len(got) == 100, 5.0, "100 messages", every=0.005)
    finally:
        sub.stop()
    assert [p[0] for p in got] == [b"robot.ib2-a"] * 100
    assert not sub.running


def test_handler_errors_do_not_stop_the_feed(
    xpub: tuple[zmq.Socket[bytes], str], caplog: pytest.LogCaptureFixture
) -> None:
    pub, endpoint = xpub
    seen: list[int] = []

    def handler(parts: list[bytes], received: float) -> None:
        seen.append(len(parts))
        if len(seen) == 1:
            raise RuntimeError("boom")

    sub = ZmqSubscriber(SubscriberConfig([endpoint]), handler)
    sub.start()
    try:
        assert pub.poll(5000)
        pub.recv()
        pub.send_multipart([b"a.b", b"1"])
        pub.send_multipart([b"a.b", b"2"])
        wait_for(lambda: len(seen) == 2, 5.0, "both messages", every=0.005)
    finally:
        sub.stop()
    assert sub.internal_errors == 1
    assert "boom" in sub.error
    # The screen gets one line; the log keeps the whole traceback for the fix.
    [record] = [r for r in caplog.records if r.exc_info is not None]
    assert record.threadName == "telemetry-pipeline"
    assert "RuntimeError: boom" in caplog.text and "Traceback" in caplog.text


def test_ticks_run_without_traffic(xpub: tuple[zmq.Socket[bytes], str]) -> None:
    _, endpoint = xpub
    ticks: list[float] = []
    sub = ZmqSubscriber(
        SubscriberConfig([endpoint]), lambda p, r: None, on_tick=ticks.append
    )
    sub.start()
    try:
        wait_for(
            lambda: len(ticks) >= 2, 5.0, "two ticks with nothing arriving", every=0.005
        )
    finally:
        sub.stop()


def test_reconnects_after_publisher_restart() -> None:
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.XPUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    endpoint = f"tcp://127.0.0.1:{port}"
    got: list[bytes] = []
    sub = ZmqSubscriber(SubscriberConfig([endpoint]), lambda p, r: got.append(p[1]))
    sub.start()
    try:
        assert pub.poll(5000)
        pub.recv()
        pub.send_multipart([b"a.b", b"first"])
        wait_for(lambda: got == [b"first"], 5.0, "the first message", every=0.005)
        pub.close(linger=0)
        pub = ctx.socket(zmq.XPUB)
        # The old socket's port is released by libzmq's I/O thread, not by close().
        deadline = time.monotonic() + 5.0
        while True:
            try:
                pub.bind(endpoint)
                break
            except zmq.ZMQError:
                assert time.monotonic() < deadline, "port was not released"
                threading.Event().wait(0.01)
        assert pub.poll(10000), "subscriber did not reconnect"
        pub.recv()
        pub.send_multipart([b"a.b", b"second"])
        wait_for(
            lambda: got == [b"first", b"second"],
            5.0,
            "the message after the reconnect",
            every=0.005,
        )
    finally:
        sub.stop()
        pub.close(linger=0)


def test_a_bad_endpoint_fails_start_and_leaves_nothing_open() -> None:
    sub = ZmqSubscriber(SubscriberConfig(["not-an-endpoint"]), lambda p, r: None)
    with pytest.raises(RuntimeError, match="cannot open subscriber"):
        sub.start()
    sub.stop()
    assert not sub.running


def test_listens_for_publishers_that_connect_and_connects_as_well(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    """``@endpoint`` binds: a publisher connects to the console (no keys needed)."""
    bound_pub, endpoint = xpub
    got: list[bytes] = []
    sub = ZmqSubscriber(
        SubscriberConfig([endpoint, listen_endpoint("tcp://127.0.0.1:*")]),
        lambda p, r: got.append(p[1]),
    )
    sub.start()
    ctx = zmq.Context.instance()
    connecting = ctx.socket(zmq.XPUB)
    connecting.setsockopt(zmq.LINGER, 0)
    try:
        (listening,) = sub.listening_on
        assert listening.startswith("tcp://127.0.0.1:") and not listening.endswith("*")
        connecting.connect(listening)
        for pub in (bound_pub, connecting):
            assert pub.poll(5000), "no subscription arrived"
            pub.recv()
        bound_pub.send_multipart([b"a.b", b"bound"])
        connecting.send_multipart([b"a.b", b"connected"])
        wait_for(
            lambda: sorted(got) == [b"bound", b"connected"],
            5.0,
            "a message from each publisher",
            every=0.005,
        )
    finally:
        sub.stop()
        connecting.close(linger=0)
    assert sub.refused == 0
    assert sub.handshakes >= 2
