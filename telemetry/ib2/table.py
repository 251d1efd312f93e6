"""Int-Ball2's telemetry id table: header ids, id -> topic -> ROS 1 type, split ranges.

Data in ``resources/ib2/telemetry_ids.toml`` (the ground configuration of
JAXA's communication software). Immutable once loaded; any thread may read it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telemetry.core.dictionary import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

IDS_FILE: Final = REPO_ROOT / "resources" / "ib2" / "telemetry_ids.toml"
HEADER_NAMES: Final = (
    "timestamp",
    "last_executed_command",
    "split_number",
    "current_split_index",
    "sending_port_index",
)


@dataclass(frozen=True, slots=True)
class TelemetryId:
    """One telemetry id: its topic, ROS 1 type ("" = no definition) and options.

    ``element`` is the array index inside ``topic``'s ``field`` for the ids
    of a split family (one id per array element), else -1; ``key`` is the
    element's field that names it ("" : its index names it). Immutable.
    """

    id: int
    topic: str
    type: str
    port: int = 0
    add_timestamp: bool = False
    field: str = ""
    element: int = -1
    key: str = ""


@dataclass(frozen=True)
class TelemetryTable:
    """Header ids and every known telemetry id; immutable, any thread."""

    header: dict[str, int]
    ids: dict[int, TelemetryId]

    @classmethod
    def load(cls, path: Path = IDS_FILE) -> TelemetryTable:
        """Read the table; ``ValueError`` names the file and the entry."""
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        header = {k: int(v) for k, v in data.get("header", {}).items()}
        missing = [n for n in HEADER_NAMES if n not in header]
        if missing:
            raise ValueError(f"{path}: [header] lacks {', '.join(missing)}")
        ids: dict[int, TelemetryId] = {}

        def add(entry: TelemetryId, where: str) -> None:
            if entry.id in ids or entry.id in header.values():
                raise ValueError(f"{path}: {where}: id {entry.id} given twice")
            ids[entry.id] = entry

        for i, e in enumerate(data.get("normal", [])):
            add(
                TelemetryId(
                    int(e["id"]),
                    str(e["topic"]),
                    str(e.get("type", "")),
                    int(e.get("port", 0)),
                    bool(e.get("add_timestamp", False)),
                ),
                f"normal[{i}]",
            )
        for i, e in enumerate(data.get("split", [])):
            first, last = (int(v) for v in e["ids"])
            for n, tid in enumerate(range(first, last + 1)):
                add(
                    TelemetryId(
                        tid,
                        str(e["topic"]),
                        str(e.get("type", "")),
                        int(e.get("port", 0)),
                        bool(e.get("add_timestamp", False)),
                        str(e["field"]),
                        n if last > first else -1,
                        str(e.get("key", "")),
                    ),
                    f"split[{i}]",
                )
        return cls(header, ids)
