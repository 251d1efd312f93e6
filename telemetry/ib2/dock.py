"""The Int-Ball2 docking station's raw record (18 bytes, little-endian, UDP 49304).

Layout from JAXA's GUI ``dock::telemetry::DataOffset`` (int-ball2-downlink.md
section 5). No pickle, no ROS, no time: the receiver stamps it. Pure
functions: any thread may call them.
"""

from __future__ import annotations

import struct
from typing import Final

from telemetry.ib2.unpickler import PickleRefused

RECORD_SIZE: Final = 18
_LAYOUT: Final = struct.Struct("<7BhhHHBH")
assert _LAYOUT.size == RECORD_SIZE
# (channel, scale): the dictionary's dock family, in record order.
FIELDS: Final = (
    ("telemetry_counter", 1.0),
    ("command_counter", 1.0),
    ("charge", 1.0),
    ("motor", 1.0),
    ("switch", 1.0),
    ("command_result", 1.0),
    ("version", 1.0),
    ("motor_temp_c", 0.01),
    ("dcdc_temp_c", 0.01),
    ("power1_current_a", 0.01),
    ("power2_current_a", 0.01),
    ("temp_alert", 1.0),
    ("charge_time", 1.0),
)


def decode_dock(data: bytes) -> dict[str, float]:
    """Return the dock family's values of one record, or raise ``PickleRefused``."""
    if len(data) != RECORD_SIZE:
        raise PickleRefused(
            "bad dock record", f"{len(data)} bytes, a dock record is {RECORD_SIZE}"
        )
    raw = _LAYOUT.unpack(data)
    return {
        name: value * scale for (name, scale), value in zip(FIELDS, raw, strict=True)
    }


def encode_dock(values: dict[str, float]) -> bytes:
    """Return the record of channel values (the simulator's dock; decode's inverse)."""
    return _LAYOUT.pack(
        *(round(values.get(name, 0.0) / scale) for name, scale in FIELDS)
    )
