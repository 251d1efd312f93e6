"""TOML configuration files decoded into typed structs, every error at file:line.

A configuration file (a fault scenario, ...) is declared as msgspec Structs:
the types, the allowed keys and the ranges are the declaration, and msgspec
checks them while it converts. What it rejects comes back as one line naming
the file, the line, the entry and the problem in the operator's words
(``faults.toml:7: [fault #2] sigma must be > 0``), found from the key path
msgspec reports. Used on whichever thread loads the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

KeyPath = tuple[str | int, ...]
"""Where a value sits in the file: table and key names, array indexes."""

_AT = re.compile(r"^(?P<message>.*?) - at `\$(?P<path>[^`]*)`$")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_FIELD = re.compile(r"`([^`]+)`")
_EXPECTED = re.compile(r"^Expected `(?P<type>\w+)`(?: (?P<bound>[<>]=? \S+))?")
_TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "str": "text",
    "bool": "true or false",
    "array": "an array",
    "object": "a table",
}


class ConfigError(ValueError):
    """A configuration file that cannot be used: one line, file:line first."""


def parse_key_path(text: str) -> KeyPath:
    """Turn msgspec's ``.fault[1].sigma`` into ``("fault", 1, "sigma")``."""
    return tuple(int(index) if index else name for name, index in _STEP.findall(text))


class ConfigFile:
    """A parsed TOML file and its text, to point errors at lines.

    ``entry_label`` names an entry for messages from its key path (for
    instance ``("fault", 1)`` -> ``"fault #2"``); it returns ``""`` for
    paths that are not an entry.
    """

    def __init__(
        self,
        text: str,
        path: str | Path | None = None,
        *,
        error: type[ConfigError] = ConfigError,
        entry_label: Callable[[KeyPath], str] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.name = str(path) if path is not None else "<configuration>"
        self.lines = text.splitlines()
        self._error = error
        self._label = entry_label or (lambda key_path: "")
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message already says "(at line N, column M)".
            raise error(f"{self.name}: not valid TOML: {exc}") from None

    @classmethod
    def read(
        cls,
        path: str | Path,
        *,
        what: str,
        error: type[ConfigError] = ConfigError,
        entry_label: Callable[[KeyPath], str] | None = None,
    ) -> ConfigFile:
        """Read ``path`` (``what`` names the kind of file when it is missing)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"no {what} at {path}") from None
        except UnicodeDecodeError as exc:
            raise error(f"{path}: not UTF-8 text ({exc.reason})") from None
        return cls(text, path, error=error, entry_label=entry_label)

    # ------------------------------------------------------------- decoding

    def decode[T](self, kind: type[T]) -> T:
        """Convert the whole file into ``kind``; an error names file and line."""
        try:
            return msgspec.convert(self.data, kind, strict=True)
        except msgspec.ValidationError as exc:
            raise self._validation_error(str(exc)) from None

    def _validation_error(self, text: str) -> ConfigError:
        match = _AT.match(text)
        message, where = (match["message"], match["path"]) if match else (text, "")
        key_path = parse_key_path(where)
        field = _FIELD.search(message)
        name = field.group(1) if field else ""
        if message.startswith("Object contains unknown field"):
            value = self.value_at((*key_path, name))
            noun = "table" if isinstance(value, dict | list) else "key"
            return self.fail(f"unknown {noun} {name!r}", (*key_path, name))
        if message.startswith("Object missing required field"):
            return self.fail(f"needs {name}", key_path)
        key = str(key_path[-1]) if key_path else "value"
        if message.startswith("Invalid value"):
            value = self.value_at(key_path)
            return self.fail(f"{key} {value!r} is not allowed here", key_path)
        expected = _EXPECTED.match(message)
        if expected:
            bound = expected["bound"]
            kind = _TYPE_WORDS.get(expected["type"], expected["type"])
            problem = f"must be {bound}" if bound else f"must be {kind}"
            value = self.value_at(key_path)
            return self.fail(f"{key} {problem}, got {value!r}", key_path)
        return self.fail(message, key_path)

    def value_at(self, key_path: KeyPath) -> object:
        """Return the raw value at ``key_path``, or None when there is none."""
        node: object = self.data
        for step in key_path:
            match step, node:
                case int(), list() if step < len(node):
                    node = node[step]
                case str(), dict() if step in node:
                    node = node[step]
                case _:
                    return None
        return node

    # --------------------------------------------------------------- errors

    def fail(self, problem: str, key_path: KeyPath = ()) -> ConfigError:
        """Return an error for the value at ``key_path``: ``file:line: [entry] …``."""
        line = self.line_of(key_path)
        where = f"{self.name}:{line}" if line else self.name
        label = self._entry_label(key_path)
        return self._error(f"{where}:{f' [{label}]' if label else ''} {problem}")

    def _entry_label(self, key_path: KeyPath) -> str:
        for end in range(len(key_path), 0, -1):
            label = self._label(key_path[:end])
            if label:
                return label
        return ""

    def line_of(self, key_path: Sequence[str | int]) -> int | None:
        """Return the line of ``key_path``: its key, else its table's header.

        Tables (``[a.b]``) and arrays of tables (``[[a]]``, counted) are found
        by their headers; a key by ``key =`` inside its table. Inline tables
        point at the line of the key that holds them.
        """
        header: list[str] = []
        line: int | None = None
        steps = list(key_path)
        i = 0
        while i < len(steps):
            step = steps[i]
            if isinstance(step, int):
                i += 1
                continue
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            names = [*header, step]
            if isinstance(nxt, int):
                found = self._header_line(names, nxt, array=True)
            else:  # a table, or an array of tables as a whole (its first)
                found = self._header_line(names, 0, array=False)
                if found is None:
                    found = self._header_line(names, 0, array=True)
            if found is None:
                key_line = self._key_line(step, line)
                return key_line if key_line is not None else line
            header, line = names, found
            i += 1
        return line

    def _header_line(self, names: list[str], index: int, *, array: bool) -> int | None:
        brackets = r"\[\[" if array else r"\["
        pattern = re.compile(
            r"^\s*"
            + brackets
            + r"\s*"
            + r"\s*\.\s*".join(map(re.escape, names))
            + r"\s*\]"
        )
        seen = 0
        for n, text in enumerate(self.lines, 1):
            if pattern.match(text):
                if seen == index:
                    return n
                seen += 1
        return None

    def _key_line(self, key: str, after: int | None) -> int | None:
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for n in range(after or 0, len(self.lines)):
            text = self.lines[n]
            if pattern.match(text):
                return n + 1
            if after is not None and text.lstrip().startswith("["):
                break
        return None
