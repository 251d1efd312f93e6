"""Where the console keeps its files, and CurveZMQ key handling.

Archives go to ``$KIBO_DATA_DIR`` or ``$XDG_DATA_HOME/kibo-console`` (default
``~/.local/share/kibo-console``): ``archives/`` per session, ``layouts/`` per role,
``training/`` for trainee logs, ``dose_ledger.sqlite`` for crew dose across sessions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry.bus.curve import load_allowed_keys
from telemetry.bus.keyfile import read_public_key, read_secret_key, write_key_pair
from telemetry.bus.subscriber import CurveConfig
from telemetry.core.dictionary import DEFAULT_DICTIONARY

if TYPE_CHECKING:
    from collections.abc import Sequence


def data_dir() -> Path:
    """Return (and create, user-only) the console's data directory."""
    explicit = os.environ.get("KIBO_DATA_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "kibo-console"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def default_archive_path() -> Path:
    """Return a new archive path for this session in the data directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    archives = data_dir() / "archives"
    archives.mkdir(parents=True, exist_ok=True, mode=0o700)
    return archives / f"session-{stamp}.sqlite"


def default_dose_ledger(demo: bool = False) -> Path:
    """Return the dose ledger of the data directory (earlier live sessions' dose).

    The built-in simulator's dose goes to a ledger of its own: a demonstration
    on an operations machine must not add to the crew's real dose record.
    """
    from telemetry.radiation.ledger import LEDGER_NAME

    return data_dir() / (f"demo-{LEDGER_NAME}" if demo else LEDGER_NAME)


def generate_keys(out: Path, name: str, *, force: bool = False) -> tuple[str, str]:
    """Write ``NAME.key`` (public) and ``NAME.key_secret`` (user-only) in ``out``.

    See ``telemetry.bus.keyfile.write_key_pair`` (ZeroMQ certificates).
    """
    return write_key_pair(out, name, force=force)


def curve_config(
    directory: Path,
    *,
    connect: bool = True,
    listen: bool = False,
    allow: Sequence[Path] = (),
) -> CurveConfig:
    """Load the console's key pair and the publisher keys it trusts from ``directory``.

    Expects ``console.key`` and ``console.key_secret`` (mode 0600, else it is
    refused). To ``connect`` it needs ``publisher.key``, the one publisher it
    trusts. To ``listen`` it needs an allow-list of publisher keys: the
    ``allow`` files or directories of ``*.key`` files, by default every
    ``*.key`` in ``directory`` but the console's own.

    Raises
    ------
    ValueError
        For a bad or exposed key file, or no publisher key to allow.
    FileNotFoundError
        For a missing key file.
    """
    secret = read_secret_key(directory / "console.key_secret")
    public = read_public_key(directory / "console.key")
    allowed = (
        load_allowed_keys(list(allow) or [directory], exclude=public, peer="publisher")
        if listen
        else {}
    )
    return CurveConfig(
        secret_key=secret,
        public_key=public,
        server_key=read_public_key(directory / "publisher.key") if connect else None,
        allowed_publishers=allowed,
    )


def console_curve(
    keys: Path | None, *, connect: bool, listen: bool, allow: Sequence[Path] = ()
) -> CurveConfig | None:
    """Return the console's CurveZMQ keys from its command line (None: plain ZeroMQ).

    Raises
    ------
    ValueError
        For ``--curve-allow`` without keys or without ``--listen``, and as
        ``curve_config``.
    """
    if allow and keys is None:
        raise ValueError("--curve-allow needs --curve-keys DIR (the console's keys)")
    if allow and not listen:
        raise ValueError(
            "--curve-allow lists the publishers a listening console admits: "
            "it needs --listen"
        )
    if keys is None:
        return None
    return curve_config(keys, connect=connect, listen=listen, allow=allow)


@dataclass
class ConsoleConfig:
    """Everything the GUI console is started with (from the command line)."""

    endpoints: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)
    archive_path: Path | None = None
    dictionary_path: Path = DEFAULT_DICTIONARY
    layout: str = "flight"
    operator: str = ""
    refresh_hz: float = 20.0
    demo: bool = False
    scenario: str = "nominal"
    replay: Path | None = None
    training: bool = False
    faults: Path | None = None
    curve: CurveConfig | None = None
    buffer_capacity: int = 100_000
    roster: Path | None = None
    limits: Path | None = None
    #: Dose ledger of a live console (``default_dose_ledger()``); None: none.
    dose_ledger: Path | None = None
