"""CurveZMQ through the command line, as the README's Security section says to run it.

``kibo-console keys`` makes the pairs; ``sim`` or ``replay --curve-secret``
serves with the allow-list and ``record --curve-keys`` subscribes; or the
recorder (or console) listens with an allow-list of publisher keys and ``sim``
or ``replay --connect ... --curve-server-key`` connects to it. Separate
processes, real sockets.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from polling import wait_for

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.schema import ArchiveError
from telemetry.bus.keyfile import read_public_key, read_secret_key
from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.bus.subscriber import short_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPLAY_DATA = Path(__file__).resolve().parents[2] / "replay_data"
GUI = [sys.executable, "-m", "console"]

pytestmark = pytest.mark.e2e


def kibo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    for name in ("console", "publisher"):
        made = kibo("keys", "--out", str(keys), "--name", name)
        assert made.returncode == 0, made.stderr
        assert "public key:" in made.stdout
        secret = read_secret_key(keys / f"{name}.key_secret").decode()
        assert secret not in made.stdout  # a secret never goes to a terminal
    return keys


@pytest.fixture
def curve_sim(key_dir: Path) -> Iterator[str]:
    endpoint = free_tcp_endpoint()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "sim",
            "--bind",
            endpoint,
            "--rate-scale",
            "5",
            "--curve-secret",
            str(key_dir / "publisher.key_secret"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield endpoint
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err


def messages(archive: Path) -> int:
    with ArchiveReader(archive) as reader:
        return int(reader.info()["frames"])


def test_record_with_the_trusted_keys_gets_telemetry(
    curve_sim: str, key_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "trusted.sqlite"
    rec = kibo(
        "record",
        "--connect",
        curve_sim,
        "--archive",
        str(archive),
        "--curve-keys",
        str(key_dir),
        "--duration",
        "3",
    )
    assert rec.returncode == 0, rec.stderr
    assert "refused" not in rec.stderr
    assert messages(archive) > 10


def test_record_with_a_console_key_the_publisher_does_not_list_gets_nothing(
    curve_sim: str, key_dir: Path, tmp_path: Path
) -> None:
    """The stranger knows the publisher's public key, yet it is refused."""
    stranger = tmp_path / "stranger"
    assert kibo("keys", "--out", str(stranger), "--name", "console").returncode == 0
    shutil.copy(key_dir / "publisher.key", stranger / "publisher.key")
    archive = tmp_path / "stranger.sqlite"
    rec = kibo(
        "record",
        "--connect",
        curve_sim,
        "--archive",
        str(archive),
        "--curve-keys",
        str(stranger),
        "--duration",
        "3",
    )
    assert rec.returncode == 0, rec.stderr
    assert "recorded 0 messages" in rec.stderr
    assert "refused" in rec.stderr
    assert messages(archive) == 0
    with ArchiveReader(archive) as reader:
        (event,) = reader.events(kind="publisher refused")
    assert "ZAP status 400" in event.detail


def test_keys_and_sim_refuse_unsafe_setups(key_dir: Path, tmp_path: Path) -> None:
    again = kibo("keys", "--out", str(key_dir), "--name", "console")
    assert again.returncode == 2
    assert "--force" in again.stderr
    lonely = tmp_path / "lonely"
    assert kibo("keys", "--out", str(lonely), "--name", "publisher").returncode == 0
    sim = kibo(
        "sim",
        "--bind",
        free_tcp_endpoint(),
        "--curve-secret",
        str(lonely / "publisher.key_secret"),
        "--duration",
        "1",
    )
    assert sim.returncode == 2
    assert "no console public key" in sim.stderr


# ------------------------------------------- a console that listens for publishers


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "console", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def archived(archive: Path, kind: str | None = None) -> int:
    """Messages archived so far, or events of ``kind`` (0 while the file is new)."""
    if not archive.exists():
        return 0
    try:
        with ArchiveReader(archive) as reader:
            if kind is not None:
                return len(reader.events(kind=kind))
            return int(reader.info()["frames"])
    except ArchiveError:  # the writer is still creating it
        return 0


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGINT a recorder (or SIGTERM a publisher); return its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    return err


def connecting_sim(
    endpoint: str, secret: Path, console_keys: Path
) -> subprocess.Popen[str]:
    """``sim --connect`` as a CURVE client of the console whose keys are there."""
    return start(
        "sim",
        "--connect",
        endpoint,
        "--rate-scale",
        "5",
        "--curve-secret",
        str(secret),
        "--curve-server-key",
        str(console_keys / "console.key"),
    )


@pytest.fixture
def listening_recorder(
    key_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., tuple[str, Path, subprocess.Popen[str]]]]:
    """Start ``record --listen`` with the console's keys; stopped after the test."""
    procs: list[subprocess.Popen[str]] = []

    def make(*extra: str) -> tuple[str, Path, subprocess.Popen[str]]:
        endpoint = free_tcp_endpoint()
        archive = tmp_path / f"listen-{len(procs)}.sqlite"
        args = ["record", "--listen", endpoint, "--archive", str(archive), *extra]
        procs.append(start(*args))
        return endpoint, archive, procs[-1]

    yield make
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_with_keys_connects_to_a_listening_recorder(
    key_dir: Path,
    listening_recorder: Callable[..., tuple[str, Path, subprocess.Popen[str]]],
) -> None:
    endpoint, archive, recorder = listening_recorder("--curve-keys", str(key_dir))
    sim = connecting_sim(endpoint, key_dir / "publisher.key_secret", key_dir)
    try:
        wait_for(lambda: archived(archive) > 10, 30, "telemetry from the simulator")
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    err = stop(recorder)
    assert recorder.returncode == 0, err
    assert "refused" not in err
    assert archived(archive, "publisher refused") == 0


def test_listening_recorder_refuses_a_publisher_it_does_not_list(
    key_dir: Path,
    tmp_path: Path,
    listening_recorder: Callable[..., tuple[str, Path, subprocess.Popen[str]]],
) -> None:
    """The impostor knows the console's public key, yet it is refused and named."""
    impostor = tmp_path / "impostor"
    assert kibo("keys", "--out", str(impostor), "--name", "publisher").returncode == 0
    endpoint, archive, recorder = listening_recorder("--curve-keys", str(key_dir))
    sim = connecting_sim(endpoint, impostor / "publisher.key_secret", key_dir)
    try:
        wait_for(
            lambda: archived(archive, "publisher refused") > 0, 30, "the refusal event"
        )
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    err = stop(recorder)
    assert recorder.returncode == 0, err
    assert "recorded 0 messages" in err
    assert "refused" in err
    with ArchiveReader(archive) as reader:
        (event,) = reader.events(kind="publisher refused")
        assert reader.info()["frames"] == 0
    impostor_key = read_public_key(impostor / "publisher.key")
    assert short_key(impostor_key) in event.detail
    assert "not on this console's allow-list" in event.detail
    assert "127.0.0.1" in event.detail


def test_replay_with_keys_serves_only_its_allowed_consoles(
    key_dir: Path, tmp_path: Path
) -> None:
    session = tmp_path / "nominal.sqlite"
    shutil.copy(REPLAY_DATA / "nominal-ops.session.sqlite", session)
    endpoint = free_tcp_endpoint()
    replay = start(
        "replay",
        "--archive",
        str(session),
        "--bind",
        endpoint,
        "--speed",
        "0",
        "--wait-subscriber",
        "30",
        "--curve-secret",
        str(key_dir / "publisher.key_secret"),
    )
    archive = tmp_path / "replayed.sqlite"
    recorder = start(
        "record",
        "--connect",
        endpoint,
        "--archive",
        str(archive),
        "--curve-keys",
        str(key_dir),
    )
    try:
        _, replay_err = replay.communicate(timeout=60)
        assert replay.returncode == 0, replay_err
        sent = int(replay_err.split("replayed ")[1].split(" messages")[0])
        assert sent > 100
        wait_for(lambda: archived(archive) >= sent, 30, "every replayed message")
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.wait()
    err = stop(recorder)
    assert recorder.returncode == 0, err
    assert archived(archive) == sent


def test_replay_connects_to_a_listening_recorder_with_keys(
    key_dir: Path,
    tmp_path: Path,
    listening_recorder: Callable[..., tuple[str, Path, subprocess.Popen[str]]],
) -> None:
    session = tmp_path / "nominal.sqlite"
    shutil.copy(REPLAY_DATA / "nominal-ops.session.sqlite", session)
    endpoint, archive, recorder = listening_recorder("--curve-keys", str(key_dir))
    replay = kibo(
        "replay",
        "--archive",
        str(session),
        "--connect",
        endpoint,
        "--speed",
        "0",
        "--wait-subscriber",
        "30",
        "--curve-secret",
        str(key_dir / "publisher.key_secret"),
        "--curve-server-key",
        str(key_dir / "console.key"),
    )
    assert replay.returncode == 0, replay.stderr
    sent = int(replay.stderr.split("replayed ")[1].split(" messages")[0])
    assert sent > 100
    wait_for(lambda: archived(archive) >= sent, 30, "every replayed message")
    err = stop(recorder)
    assert recorder.returncode == 0, err
    assert archived(archive) == sent


def test_plain_sim_connects_to_a_plain_listening_console_window(
    tmp_path: Path,
) -> None:
    """``kibo-console --listen``: no keys needed when the link is plain."""
    endpoint = free_tcp_endpoint()
    archive = tmp_path / "gui.sqlite"
    env = dict(
        os.environ, QT_QPA_PLATFORM="offscreen", KIBO_DATA_DIR=str(tmp_path / "data")
    )
    gui = subprocess.Popen(
        [*GUI, "--listen", endpoint, "--archive", str(archive), "--quit-after", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    sim = start("sim", "--connect", endpoint, "--rate-scale", "5")
    try:
        wait_for(lambda: archived(archive) > 10, 60, "telemetry in the console")
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
        gui.terminate()
        _, err = gui.communicate(timeout=30)
    assert "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "sim",
                "--connect",
                "tcp://127.0.0.1:9",
                "--curve-secret",
                "{keys}/publisher.key_secret",
            ],
            "needs --curve-server-key",
        ),
        (
            [
                "sim",
                "--curve-secret",
                "{keys}/publisher.key_secret",
                "--curve-server-key",
                "{keys}/console.key",
            ],
            "--curve-server-key is for --connect",
        ),
        (
            ["replay", "--archive", "x.sqlite", "--curve-allow", "{keys}"],
            "need --curve-secret",
        ),
        (
            [
                "replay",
                "--archive",
                "x.sqlite",
                "--connect",
                "tcp://127.0.0.1:9",
                "--curve-secret",
                "{keys}/publisher.key_secret",
                "--curve-server-key",
                "{keys}/console.key",
                "--curve-allow",
                "{keys}",
            ],
            "with --curve-server-key the listening console is the server",
        ),
        (
            ["record", "--archive", "{tmp}/never.sqlite"],
            "give --connect ENDPOINT or --listen ENDPOINT",
        ),
        (
            [
                "record",
                "--connect",
                "tcp://127.0.0.1:9",
                "--archive",
                "{tmp}/never.sqlite",
                "--curve-keys",
                "{keys}",
                "--curve-allow",
                "{keys}",
            ],
            "it needs --listen",
        ),
        (
            [
                "record",
                "--listen",
                "tcp://127.0.0.1:*",
                "--archive",
                "{tmp}/never.sqlite",
                "--curve-keys",
                "{tmp}/lonely",
            ],
            "no publisher public key",
        ),
    ],
    ids=[
        "sim-connect-without-server-key",
        "sim-server-key-without-connect",
        "replay-allow-without-secret",
        "replay-client-with-allow-list",
        "record-nowhere",
        "record-allow-without-listen",
        "record-listen-with-no-publisher-key",
    ],
)
def test_curve_options_that_cannot_work_are_refused_before_anything_starts(
    key_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    lonely = tmp_path / "lonely"
    assert kibo("keys", "--out", str(lonely), "--name", "console").returncode == 0
    filled = [a.format(keys=key_dir, tmp=tmp_path) for a in args]
    result = kibo(*filled)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never.sqlite").exists()


def test_a_non_z85_key_stops_the_recorder_before_anything_is_created(
    key_dir: Path, tmp_path: Path
) -> None:
    """Issue 14: the key of the right length but not Z85 used to trace back late."""
    public = key_dir / "publisher.key"
    public.write_text('curve\n    public-key = "' + "~" * 40 + '"\n')
    archive = tmp_path / "never.sqlite"
    rec = kibo(
        "record",
        "--connect",
        free_tcp_endpoint(),
        "--archive",
        str(archive),
        "--curve-keys",
        str(key_dir),
        "--duration",
        "1",
    )
    assert rec.returncode == 2
    lines = rec.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in rec.stderr, rec.stderr
    assert "publisher.key" in lines[0] and "not Z85" in lines[0]
    assert not archive.exists()


def test_a_group_writable_trusted_key_stops_the_recorder(
    key_dir: Path, tmp_path: Path
) -> None:
    (key_dir / "publisher.key").chmod(0o666)
    archive = tmp_path / "never.sqlite"
    rec = kibo(
        "record", "--connect", free_tcp_endpoint(), "--archive", str(archive),
        "--curve-keys", str(key_dir), "--duration", "1",
    )  # fmt: skip
    assert rec.returncode == 2, rec.stderr
    assert "writable by others" in rec.stderr and "chmod go-w" in rec.stderr
    assert not archive.exists()
