"""CurveZMQ through the command line, as the README's Security section says to run it.

``kibo-console keys`` makes the pairs, ``sim --curve-secret`` serves with the
allow-list, ``record --curve-keys`` subscribes. Separate processes, real sockets.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from telemetry.archive import ArchiveReader

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


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
        secret = (keys / f"{name}.key_secret").read_text().strip()
        assert secret not in made.stdout  # a secret never goes to a terminal
    return keys


@pytest.fixture
def curve_sim(key_dir: Path) -> Iterator[str]:
    endpoint = free_endpoint()
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
        free_endpoint(),
        "--curve-secret",
        str(lonely / "publisher.key_secret"),
        "--duration",
        "1",
    )
    assert sim.returncode == 2
    assert "no console public key" in sim.stderr
