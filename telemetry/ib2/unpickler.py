"""A restricted reader of Int-Ball2 telemetry pickles: dict of int -> bytes, no more.

The robot sends ``pickle.dumps(dict, protocol=3)`` of telemetry id -> ROS 1
bytes. ``pickle.loads`` on network bytes would run whatever a forged pickle
names (``GLOBAL`` + ``REDUCE`` is a function call), so this reader walks the
opcodes with ``pickletools.genops`` (which only parses) and admits the few
that this format is made of; anything else is refused before it could do
anything. Pure functions: any thread may call them.
"""

from __future__ import annotations

import pickletools
from typing import Final

#: The robot's maximum datagram (1500 - 20 IP - 8 UDP, trans_communication.py).
MAX_DATAGRAM: Final = 1472

# What CPython 3.6-3.12 write for a dict of small ints to bytes at protocol 3
# (int-ball2-downlink.md section 1): keys BININT1/2/BININT, values
# SHORT_BINBYTES/BINBYTES, the memo (BINPUT, and BINGET for the shared
# one-byte bytes objects), MARK + SETITEMS (SETITEM for a single item).
_ALLOWED: Final = frozenset(
    {
        "PROTO",
        "EMPTY_DICT",
        "MARK",
        "BININT1",
        "BININT2",
        "BININT",
        "SHORT_BINBYTES",
        "BINBYTES",
        "BINPUT",
        "LONG_BINPUT",
        "BINGET",
        "LONG_BINGET",
        "SETITEM",
        "SETITEMS",
        "STOP",
    }
)
_MARK: Final = object()


class PickleRefused(ValueError):
    """A datagram that is not a telemetry pickle; ``reason`` is a short category."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def load_telemetry(data: bytes) -> dict[int, bytes]:
    """Return the id -> bytes dict of one telemetry pickle, or raise ``PickleRefused``.

    Zero bytes after ``STOP`` are the sender's padding; anything else after
    it is refused, as is any opcode outside the format, a protocol other
    than 2-3, a key that is not an int in 0..65535 or a value that is not
    bytes.
    """
    if len(data) > MAX_DATAGRAM:
        raise PickleRefused(
            "oversized", f"{len(data)} bytes, the robot sends at most {MAX_DATAGRAM}"
        )
    stack: list[object] = []
    memo: dict[int, object] = {}
    end = -1
    try:
        for opcode, arg, offset in pickletools.genops(data):
            name = opcode.name
            pos = offset or 0  # genops gives the offset of every opcode in bytes
            if name not in _ALLOWED:
                raise PickleRefused(
                    "forbidden opcode", f"{name} at byte {pos} is not in the format"
                )
            if name == "PROTO":
                if arg not in (2, 3):
                    raise PickleRefused("bad pickle", f"protocol {arg}, expected 3")
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "MARK":
                stack.append(_MARK)
            elif name in ("BININT1", "BININT2", "BININT", "SHORT_BINBYTES", "BINBYTES"):
                stack.append(arg)
            elif name in ("BINPUT", "LONG_BINPUT"):
                if not stack:
                    raise PickleRefused("bad pickle", f"{name} on an empty stack")
                memo[int(arg)] = stack[-1]  # type: ignore[arg-type]
            elif name in ("BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise PickleRefused("bad pickle", f"{name} {arg}: not in the memo")
                stack.append(memo[arg])
            elif name == "SETITEM":
                if len(stack) < 3:
                    raise PickleRefused("bad pickle", f"SETITEM at byte {pos}: stack")
                value = stack.pop()
                key = stack.pop()
                _set(stack[-1], key, value, pos)
            elif name == "SETITEMS":
                items = _pop_mark(stack, pos)
                if len(items) % 2 or not stack:
                    raise PickleRefused("bad pickle", f"SETITEMS at byte {pos}: stack")
                for i in range(0, len(items), 2):
                    _set(stack[-1], items[i], items[i + 1], pos)
            else:  # STOP
                end = pos + 1
    except PickleRefused:
        raise
    except ValueError as exc:
        # genops: truncated argument, unknown opcode byte, no STOP.
        raise PickleRefused("truncated", str(exc)) from None
    if end < 0:
        raise PickleRefused("truncated", "no STOP opcode")
    if len(stack) != 1 or not isinstance(stack[0], dict):
        kind = type(stack[-1]).__name__ if stack else "nothing"
        raise PickleRefused("wrong type", f"the pickle is a {kind}, not a dict")
    tail = data[end:]
    if tail.strip(b"\0"):
        raise PickleRefused(
            "bad padding", f"{len(tail)} bytes after STOP are not all zero"
        )
    result: dict[int, bytes] = stack[0]
    return result


def _pop_mark(stack: list[object], pos: int) -> list[object]:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1 :]
            del stack[i:]
            return items
    raise PickleRefused("bad pickle", f"SETITEMS at byte {pos} without MARK")


def _set(target: object, key: object, value: object, pos: int) -> None:
    if not isinstance(target, dict):
        raise PickleRefused("wrong type", f"item set on a {type(target).__name__}")
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 65536:
        raise PickleRefused(
            "wrong type", f"key {key!r} at byte {pos} is not a telemetry id (uint16)"
        )
    if not isinstance(value, bytes):
        raise PickleRefused(
            "wrong type", f"id {key}: value is a {type(value).__name__}, not bytes"
        )
    target[key] = value
