"""CurveZMQ end to end with real sockets: who may talk to whom, and what is logged.

Two topologies. The publisher binds and is a CURVE server with a ZAP
allow-list of console keys (``telemetry.bus.curve``), and the console is a
CURVE client that trusts one server key (``console.config.curve_config``).
Or the console listens and is the CURVE server with an allow-list of
publisher keys, and publishers connect as CURVE clients. Refusals on either
side are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import pytest
import zmq
import zmq.auth

from console.config import curve_config, generate_keys
from telemetry.archive.reader import ArchiveReader
from telemetry.bus.curve import (
    ClientAllowList,
    load_allowed_keys,
    load_publisher_curve,
    publish_with_curve,
)
from telemetry.bus.keyfile import read_public_key, read_secret_key
from telemetry.bus.publisher import Publisher, RawMessage
from telemetry.bus.subscriber import (
    CurveConfig,
    SubscriberConfig,
    ZmqSubscriber,
    listen_endpoint,
    short_key,
)
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from telemetry.core.dictionary import TelemetryDictionary

T0 = 1.75e9


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A key directory as ``kibo-console keys`` makes it, for both sides."""
    directory = tmp_path / "keys"
    generate_keys(directory, "console")
    generate_keys(directory, "publisher")
    return directory


def send_until(
    publishers: list[Publisher],
    done: Callable[[], bool],
    session: LiveSession,
    timeout: float = 20.0,
) -> None:
    """Publish a 100 Hz robot stream on each publisher until ``done()`` or the deadline.

    Each publisher is its own source (``ib2-a``, ``jpm``...), in order.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    seq = 0
    while not done():
        sub = session.subscriber
        assert time.monotonic() < deadline, (
            f"condition not met in time: received {sub.received}, refused "
            f"{sub.refused}, handshakes {sub.handshakes}, error {sub.error!r}, "
            f"events {[(e.kind, e.detail) for e in session.store.events_since(0)]}"
        )
        t = T0 + seq * 0.1
        for publisher, (family, source, channel) in zip(
            publishers, SOURCES, strict=False
        ):
            publisher.send(encode_frame(family, source, seq, [t], {channel: [1.0]}))
        seq += 1
        pause.wait(0.01)  # pacing the stream, not waiting for a result


SOURCES = [("robot", "ib2-a", "pos_x"), ("eclss", "jpm", "temp")]


class CurvePublisher:
    """A CURVE-server XPUB with the allow-list, driven by the test thread."""

    def __init__(self, secret: bytes | None, allowed: dict[bytes, str]) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.allow = ClientAllowList(self.context, allowed)
        self.allow.start()
        self.publisher = Publisher(
            "tcp://127.0.0.1:*",
            context=self.context,
            curve_secret_key=secret,
            linger_ms=0,
        )
        self.endpoint = self.publisher.endpoint

    def send_until(
        self, done: Callable[[], bool], session: LiveSession, timeout: float = 20.0
    ) -> None:
        send_until([self.publisher], done, session, timeout)

    def close(self) -> None:
        self.publisher.close()
        self.allow.stop()
        self.context.term()


@pytest.fixture
def publisher_for(keys: Path) -> Iterator[Callable[..., CurvePublisher]]:
    made: list[CurvePublisher] = []

    def make(
        secret: bytes | None = None, allowed: dict[bytes, str] | None = None
    ) -> CurvePublisher:
        if secret is None:
            secret = key(keys / "publisher.key_secret")
        if allowed is None:
            server = key(keys / "publisher.key")
            allowed = load_allowed_keys([keys], exclude=server)
        pub = CurvePublisher(secret, allowed)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()


def session_for(
    dictionary: TelemetryDictionary, endpoint: str, curve: CurveConfig, path: Path
) -> LiveSession:
    session = LiveSession(dictionary, SessionConfig([endpoint], path, curve=curve))
    session.start()
    return session


def refusals(session: LiveSession) -> list[str]:
    return [
        e.detail for e in session.store.events_since(0) if e.kind == "publisher refused"
    ]


def archived_refusals(path: Path) -> list[str]:
    with ArchiveReader(path) as reader:
        return [e.detail for e in reader.events(kind="publisher refused")]


def test_allowed_keys_come_from_key_files_but_never_the_servers_own(
    keys: Path,
) -> None:
    server = key(keys / "publisher.key")
    allowed = load_allowed_keys([keys], exclude=server)
    assert allowed == {key(keys / "console.key"): "console"}
    with pytest.raises(ValueError, match="no console public key"):
        load_allowed_keys([keys / "publisher.key"], exclude=server)


def test_trusted_pair_receives_encrypted_telemetry(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    pub = publisher_for()
    session = session_for(
        tiny_dictionary, pub.endpoint, curve_config(keys), tmp_path / "a.sqlite"
    )
    try:
        pub.send_until(lambda: session.store.sources.get("ib2-a") is not None, session)
        pub.send_until(lambda: session.store.sources["ib2-a"].messages >= 20, session)
    finally:
        session.stop()
    assert session.subscriber.refused == 0
    assert session.subscriber.handshakes == 1
    assert pub.allow.accepted == 1 and pub.allow.refused == 0
    assert refusals(session) == []


def test_console_refuses_a_publisher_with_another_key_and_logs_it(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """An impostor publisher (a key the console does not trust) gets nowhere."""
    _, impostor_secret = zmq.curve_keypair()
    pub = publisher_for(secret=impostor_secret)
    path = tmp_path / "impostor.sqlite"
    session = session_for(tiny_dictionary, pub.endpoint, curve_config(keys), path)
    try:
        pub.send_until(lambda: session.subscriber.refused >= 3, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert session.store.sources == {}
    # The handshake fails before the publisher's ZAP handler is even asked.
    assert pub.allow.accepted == 0
    (detail,) = refusals(session)  # repeats fold into one event
    assert pub.endpoint in detail
    assert "not the expected server key" in detail
    assert archived_refusals(path) == [detail]


def test_publisher_refuses_a_console_it_does_not_know(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A console with a valid server key but an unlisted key of its own."""
    caplog.set_level(logging.WARNING, logger="telemetry.bus.curve")
    pub = publisher_for()
    stranger_public, stranger_secret = zmq.curve_keypair()
    curve = CurveConfig(
        secret_key=stranger_secret,
        public_key=stranger_public,
        server_key=key(keys / "publisher.key"),
    )
    session = session_for(tiny_dictionary, pub.endpoint, curve, tmp_path / "s.sqlite")
    try:
        pub.send_until(lambda: bool(refusals(session)), session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert pub.allow.refused >= 1 and pub.allow.accepted == 0
    assert "refused this console's key (ZAP status 400)" in refusals(session)[0]
    assert stranger_public.decode() in caplog.text


def test_plain_console_gets_nothing_from_a_curve_publisher(
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    pub = publisher_for()
    session = LiveSession(
        tiny_dictionary, SessionConfig([pub.endpoint], tmp_path / "p.sqlite")
    )
    session.start()
    try:
        pub.send_until(lambda: session.subscriber.refused >= 1, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert "may require CURVE keys" in refusals(session)[0]


def test_curve_console_refuses_a_plain_publisher(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """Nobody can downgrade the link by publishing without CURVE."""
    pub = CurvePublisher(None, {})
    try:
        session = session_for(
            tiny_dictionary, pub.endpoint, curve_config(keys), tmp_path / "d.sqlite"
        )
        try:
            pub.send_until(lambda: session.subscriber.refused >= 1, session)
        finally:
            session.stop()
    finally:
        pub.close()
    assert session.subscriber.received == 0
    assert refusals(session)


def test_key_files_are_private_and_never_overwritten_by_accident(
    keys: Path,
) -> None:
    assert (keys / "console.key_secret").stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    before = (keys / "console.key_secret").read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        generate_keys(keys, "console")
    assert (keys / "console.key_secret").read_bytes() == before
    (keys / "console.key_secret").chmod(0o644)
    generate_keys(keys, "console", force=True)
    assert (keys / "console.key_secret").stat().st_mode & 0o777 == 0o600
    assert (keys / "console.key_secret").read_bytes() != before
    with pytest.raises(ValueError, match="plain file name"):
        generate_keys(keys, "../elsewhere")


def test_a_secret_key_others_can_read_is_refused(keys: Path) -> None:
    curve_config(keys)
    (keys / "console.key_secret").chmod(0o640)
    with pytest.raises(ValueError, match="readable by others"):
        curve_config(keys)


# ------------------------------------------- the console listens (CURVE server)


@pytest.fixture
def connecting() -> Iterator[Callable[..., Publisher]]:
    """Publishers that connect to a listening console; closed after the test."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    made: list[Publisher] = []

    def make(
        endpoint: str, secret: bytes | None = None, server_key: bytes | None = None
    ) -> Publisher:
        pub = Publisher(
            endpoint,
            connect=True,
            context=context,
            curve_secret_key=secret,
            curve_server_key=server_key,
            linger_ms=0,
        )
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()
    context.term()


def listening_session(
    dictionary: TelemetryDictionary,
    curve: CurveConfig | None,
    path: Path,
    connect: tuple[str, ...] = (),
) -> tuple[LiveSession, str]:
    """Start a console listening on a free port; return it and where it listens."""
    endpoints = [*connect, listen_endpoint("tcp://127.0.0.1:*")]
    session = LiveSession(dictionary, SessionConfig(endpoints, path, curve=curve))
    session.start()
    (endpoint,) = session.subscriber.listening_on
    return session, endpoint


def key(path: Path) -> bytes:
    """The Z85 key a key file holds (the secret one of a ``.key_secret``)."""
    if path.name.endswith(".key_secret"):
        return read_secret_key(path)
    return read_public_key(path)


def test_listening_console_allows_publisher_keys_from_its_key_directory(
    keys: Path, tmp_path: Path
) -> None:
    """The same rule as the publisher's: every *.key there but its own."""
    curve = curve_config(keys, connect=False, listen=True)
    assert curve.server_key is None
    assert dict(curve.allowed_publishers) == {key(keys / "publisher.key"): "publisher"}
    other = tmp_path / "gateway.key"
    other.write_bytes(zmq.curve_keypair()[0] + b"\n")
    chosen = curve_config(keys, connect=False, listen=True, allow=[other])
    assert dict(chosen.allowed_publishers) == {key(other): "gateway"}
    alone = tmp_path / "alone"
    generate_keys(alone, "console")
    with pytest.raises(ValueError, match="no publisher public key"):
        curve_config(alone, connect=False, listen=True)
    unlisted = CurveConfig(key(keys / "console.key_secret"), key(keys / "console.key"))
    with pytest.raises(ValueError, match="allow-list of publisher public keys"):
        ZmqSubscriber(
            SubscriberConfig([listen_endpoint("tcp://127.0.0.1:*")], curve=unlisted),
            lambda parts, received: None,
        )
    with pytest.raises(ValueError, match=r"publisher's public key \(publisher.key\)"):
        ZmqSubscriber(
            SubscriberConfig(["tcp://127.0.0.1:9"], curve=unlisted),
            lambda parts, received: None,
        )


def test_listening_console_receives_from_an_allowed_connecting_publisher(
    keys: Path,
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    curve = curve_config(keys, connect=False, listen=True)
    session, endpoint = listening_session(tiny_dictionary, curve, tmp_path / "l.sqlite")
    try:
        pub = connecting(
            endpoint, key(keys / "publisher.key_secret"), key(keys / "console.key")
        )
        assert pub.wait_for_subscriber(10.0), "the console never subscribed"
        send_until(
            [pub],
            lambda: "ib2-a" in session.store.sources
            and session.store.sources["ib2-a"].messages >= 20,
            session,
        )
    finally:
        session.stop()
    assert session.subscriber.refused == 0
    assert session.subscriber.handshakes >= 1
    assert refusals(session) == []


def test_listening_console_refuses_an_unknown_publisher_key_and_says_so(
    keys: Path,
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A publisher that knows the console's key but is not on its allow-list."""
    caplog.set_level(logging.WARNING, logger="telemetry")
    curve = curve_config(keys, connect=False, listen=True)
    path = tmp_path / "refused.sqlite"
    session, endpoint = listening_session(tiny_dictionary, curve, path)
    stranger_public, stranger_secret = zmq.curve_keypair()
    try:
        # Two connections with the same unknown key: one event, two counted.
        pubs = [
            connecting(endpoint, stranger_secret, key(keys / "console.key"))
            for _ in range(2)
        ]
        send_until(pubs, lambda: session.subscriber.refused >= 2, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert session.store.sources == {}
    (detail,) = refusals(session)
    assert short_key(stranger_public) in detail
    assert stranger_public.decode() not in detail  # shortened for the operator
    assert "127.0.0.1" in detail and endpoint in detail
    assert "not on this console's allow-list" in detail
    logged = [r for r in caplog.records if r.name == "telemetry.bus.curve"]
    assert any(stranger_public.decode() in r.getMessage() for r in logged)
    assert all(r.levelno == logging.WARNING for r in logged)
    assert archived_refusals(path) == [detail]


def test_listening_console_refuses_a_plain_publisher(
    keys: Path,
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """Nobody can downgrade the link by connecting without CURVE."""
    curve = curve_config(keys, connect=False, listen=True)
    session, endpoint = listening_session(tiny_dictionary, curve, tmp_path / "p.sqlite")
    try:
        pub = connecting(endpoint)
        send_until([pub], lambda: session.subscriber.refused >= 1, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    (detail,) = refusals(session)
    assert "does not use CURVE" in detail


def test_plain_listening_console_needs_no_keys(
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    session, endpoint = listening_session(tiny_dictionary, None, tmp_path / "n.sqlite")
    try:
        pub = connecting(endpoint)
        send_until([pub], lambda: "ib2-a" in session.store.sources, session)
    finally:
        session.stop()
    assert session.subscriber.refused == 0


def test_console_listens_and_connects_with_a_curve_role_for_each(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """A CURVE client of a binding publisher and a CURVE server for a connecting one."""
    server = publisher_for()  # binds, admits console.key
    curve = curve_config(keys, connect=True, listen=True)
    session, endpoint = listening_session(
        tiny_dictionary, curve, tmp_path / "both.sqlite", connect=(server.endpoint,)
    )
    try:
        client = connecting(
            endpoint, key(keys / "publisher.key_secret"), key(keys / "console.key")
        )
        send_until(
            [server.publisher, client],
            lambda: {"ib2-a", "jpm"} <= set(session.store.sources),
            session,
        )
    finally:
        session.stop()
    assert session.subscriber.refused == 0
    assert server.allow.accepted == 1


def test_publish_with_curve_connects_as_a_client_of_a_listening_console(
    keys: Path, tiny_dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    """The simulator's and replay's path: keys loaded first, then connect."""
    with pytest.raises(ValueError, match="--curve-allow"):
        load_publisher_curve(
            keys / "publisher.key_secret", [keys], keys / "console.key"
        )
    curve = load_publisher_curve(
        keys / "publisher.key_secret", server_key=keys / "console.key"
    )
    assert curve.server_key == key(keys / "console.key") and not curve.allowed
    console = curve_config(keys, connect=False, listen=True)
    session, endpoint = listening_session(
        tiny_dictionary, console, tmp_path / "c.sqlite"
    )
    frames = [
        encode_frame("robot", "ib2-a", seq, [T0 + seq], {"pos_x": [1.0]})
        for seq in range(50)
    ]
    try:
        stats = publish_with_curve(
            [RawMessage(T0 + i, parts) for i, parts in enumerate(frames)],
            endpoint,
            curve,
            connect=True,
            speed=None,
            wait_for_subscriber=10.0,
        )
        deadline = time.monotonic() + 10.0
        while (
            session.store.rejected_total
            + sum(s.messages for s in list(session.store.sources.values()))
            < 50
        ):
            assert time.monotonic() < deadline, "not everything arrived"
            threading.Event().wait(0.01)
    finally:
        session.stop()
    assert stats.messages == 50
    assert session.store.sources["ib2-a"].messages == 50


# ---------------------------------------------------- issue 14: trusted keys


def test_trusted_key_files_others_could_replace_are_refused(keys: Path) -> None:
    """As ssh: a public key file, or its directory, writable by group or others."""
    public = keys / "publisher.key"
    public.chmod(0o664)
    with pytest.raises(ValueError, match="writable by its group"):
        read_public_key(public)
    with pytest.raises(ValueError, match="writable by its group"):
        curve_config(keys)
    public.chmod(0o644)
    keys.chmod(0o777)
    try:
        with pytest.raises(ValueError, match=r"directory .* is writable by others"):
            load_allowed_keys([keys], peer="publisher")
    finally:
        keys.chmod(0o700)
    assert read_public_key(public)  # fixed: accepted again


def test_key_files_are_zeromq_certificates_and_old_bare_keys_still_read(
    keys: Path, tmp_path: Path
) -> None:
    public, secret = zmq.auth.load_certificate(keys / "console.key_secret")
    assert secret is not None
    assert (keys / "console.key_secret").stat().st_mode & 0o777 == 0o600
    assert read_public_key(keys / "console.key") == public
    assert read_secret_key(keys / "console.key_secret") == secret
    bare = tmp_path / "old.key"
    bare.write_bytes(public + b"\n")
    assert read_public_key(bare) == public


def test_a_key_of_the_right_length_that_is_not_z85_is_refused_in_one_line(
    keys: Path,
) -> None:
    (keys / "publisher.key").write_text('public-key = "' + "~" * 40 + '"\n# x\n')
    with pytest.raises(ValueError, match="is not Z85 text") as caught:
        curve_config(keys)
    assert "\n" not in str(caught.value)
    assert "publisher.key" in str(caught.value)


def test_a_flood_of_unknown_publisher_keys_is_one_folded_event(
    keys: Path,
    connecting: Callable[..., Publisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """Thirty publishers, each with a new key: one event that counts them."""
    curve = curve_config(keys, connect=False, listen=True)
    path = tmp_path / "flood.sqlite"
    session, endpoint = listening_session(tiny_dictionary, curve, path)
    try:
        pubs = [
            connecting(endpoint, zmq.curve_keypair()[1], key(keys / "console.key"))
            for _ in range(30)
        ]
        send_until(pubs[:2], lambda: session.subscriber.refused >= 30, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert len(refusals(session)) == 1
    assert len(archived_refusals(path)) == 1
