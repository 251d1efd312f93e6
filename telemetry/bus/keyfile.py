"""CurveZMQ key files: written, read and checked as ssh checks its keys.

Files are ZeroMQ certificates (``zmq.auth`` format, read with
``zmq.auth.load_certificate``): ``NAME.key`` holds the public key and
``NAME.key_secret`` both. A bare 40-character Z85 key on one line (what this
console wrote before) is still read.

Checks, made before anything else is created (archive, sockets):

- a secret key file must be readable by its owner only (mode 0600), or it
  may have leaked;
- a trusted public key file, and the directory holding it, must not be
  writable by group or others: whoever can write it can replace the key and
  be trusted (ssh's StrictModes refuses such files the same way);
- a key must be 40 Z85 characters that decode to 32 bytes; a file of the
  right length with other characters is refused in one line (libzmq used to
  refuse it only when the socket was configured, after the archive existed).

Plain functions, called on whichever thread loads the configuration.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

Z85_KEY_CHARS = 40


class KeyFileError(ValueError):
    """A key file that must not be used; the message names the file and why."""


def _check_z85(key: bytes, path: Path, what: str) -> bytes:
    if len(key) != Z85_KEY_CHARS:
        raise KeyFileError(
            f"{path}: a CurveZMQ {what} key is {Z85_KEY_CHARS} Z85 characters, "
            f"found {len(key)}"
        )
    try:
        raw = z85.decode(key)
    except (KeyError, ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        bad = next((chr(c) for c in key if chr(c) not in _Z85_ALPHABET), "?")
        raise KeyFileError(
            f"{path}: the {what} key is not Z85 text (character {bad!r} is not "
            "in the Z85 alphabet); make a new pair with 'kibo-console keys'"
        )
    return key


_Z85_ALPHABET = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#"
)


def _load(path: Path) -> tuple[bytes, bytes | None, bool]:
    """Return (first key, secret or None, bare) from a certificate or a bare key.

    A bare file holds one key (public or secret, by its name); a certificate
    its public key and, for a secret certificate, the secret key.
    """
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from None
    stripped = text.strip()
    if b"\n" not in stripped and not stripped.startswith(b"#"):
        return stripped, None, True  # a bare key (the older format)
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (ValueError, OSError) as exc:
        raise KeyFileError(f"{path}: not a ZeroMQ certificate: {exc}") from None
    return public, secret, False


def _check_not_writable_by_others(path: Path) -> None:
    """Refuse a trusted file whose file or directory group/others may write."""
    for target, what in ((path, "file"), (path.resolve().parent, "directory")):
        mode = target.stat().st_mode
        # A sticky, world-writable directory (/tmp) still lets others create
        # files beside it but not replace this one: ssh refuses it anyway.
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise KeyFileError(
                f"{path}: trusted key {what} {target} is writable by "
                f"{'others' if mode & stat.S_IWOTH else 'its group'} (mode "
                f"{stat.S_IMODE(mode):o}); anyone who can write it can replace "
                f"the key: run 'chmod go-w {target}'"
            )


def read_public_key(path: str | Path) -> bytes:
    """Read a trusted public key (``NAME.key``), refusing one others could replace.

    Raises
    ------
    KeyFileError
        If the file or its directory is writable by group or others, or the
        key is not 40 Z85 characters.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    public, _, _ = _load(path)
    _check_not_writable_by_others(path)
    return _check_z85(public, path, "public")


def read_secret_key(path: str | Path) -> bytes:
    """Read a secret key (``NAME.key_secret``), refusing one others may read.

    Like ssh with a private key: a secret readable by group or others may have
    leaked, so the link it protects cannot be trusted.

    Raises
    ------
    KeyFileError
        If the file's mode allows group or other access, or it holds no valid
        secret key.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such key file") from None
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: secret key is readable by others (mode {mode:o}); "
            f"run 'chmod 600 {path}' if it has not leaked, else make a new pair"
        )
    first, secret, bare = _load(path)
    if bare:
        secret = first
    elif secret is None:
        raise KeyFileError(f"{path}: holds no secret-key (a public certificate?)")
    return _check_z85(secret, path, "secret")


def write_key_pair(out: Path, name: str, *, force: bool = False) -> tuple[str, str]:
    """Write ``NAME.key`` and ``NAME.key_secret`` certificates in ``out``.

    The format is ``zmq.auth.create_certificates``'s, but the secret is
    written to a fresh file created with mode 0600 (pyzmq's leaves it at the
    umask's mode, often world-readable) and the directory is made 0700.

    Raises
    ------
    ValueError
        If ``name`` is not a plain file name.
    FileExistsError
        If the key pair exists and ``force`` is false: replacing a key locks
        out every peer that trusts the old one, so it must be deliberate.
    """
    if not name or name != Path(name).name or name.startswith("."):
        raise ValueError(f"key name {name!r} must be a plain file name")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    public_path = out / f"{name}.key"
    secret_path = out / f"{name}.key_secret"
    if not force and (public_path.exists() or secret_path.exists()):
        raise FileExistsError(
            f"{secret_path} already exists; pass --force to replace the key pair"
        )
    public, secret = zmq.curve_keypair()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = f"#   ****  Generated on {stamp} by kibo-console keys  ****\n"
    public_text = (
        f"{head}#   ZeroMQ CURVE Public Certificate\n\nmetadata\ncurve\n"
        f'    public-key = "{public.decode()}"\n'
    )
    secret_text = (
        f"{head}#   ZeroMQ CURVE **Secret** Certificate\n"
        "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
        f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
        f'    secret-key = "{secret.decode()}"\n'
    )
    # O_EXCL on a fresh file: O_TRUNC on an existing one would keep its
    # (possibly wider) permissions.
    secret_path.unlink(missing_ok=True)
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret_text)
    public_path.unlink(missing_ok=True)
    fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(public_text)
    return public.decode("ascii"), secret.decode("ascii")
