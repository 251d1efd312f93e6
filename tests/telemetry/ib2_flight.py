"""The flight side of Int-Ball2's downlink, written for the tests from its description.

Independent of ``telemetry.ib2`` and of the simulator's encoder: ROS 1
serialisation by hand with ``struct`` (little-endian wire format), the
flight sender's dict splitting on ``sys.getsizeof`` at 1,300, the header ids
added after the data, ``pickle.dumps(protocol=3)`` and its zero padding
(int-ball2-downlink.md sections 2-5). The tests then check the bridge against
this description rather than against the code under test.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys

THRESHOLD = 1300
MIN_USER_DATA = 68


def ros_time(t: float) -> bytes:
    secs = int(t)
    return struct.pack("<II", secs, round((t - secs) * 1e9))


def ros_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def one_byte(value: int) -> bytes:
    # As rospy's BytesIO.getvalue(): CPython's shared one-byte bytes objects,
    # so equal values are the same object and the pickler writes BINGET.
    buffer = io.BytesIO()
    buffer.write(struct.pack("<B", value))
    return buffer.getvalue()


def pose_stamped(
    seq: int,
    stamp: float,
    position: tuple[float, float, float],
    quat: tuple[float, float, float, float],
) -> bytes:
    return (
        struct.pack("<I", seq) + ros_time(stamp) + ros_string("iss_body")
        + struct.pack("<3d", *position) + struct.pack("<4d", *quat)
    )  # fmt: skip


def navigation(
    stamp: float,
    position: tuple[float, float, float],
    quat: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0),
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0),
    status: int = 1,
    marker: bool = False,
) -> bytes:
    return (
        pose_stamped(7, stamp, position, quat)
        + struct.pack("<3d", *velocity) + struct.pack("<3d", 0.0, 0.0, 0.0)  # twist
        + struct.pack("<3d", 0.0, 0.0, 0.0)  # a
        + struct.pack("<BB", status, marker)
    )  # fmt: skip


def mode(value: int) -> bytes:
    return one_byte(value)


def battery(percent: int) -> bytes:
    return struct.pack("<b", percent)


def system_status(
    disks: list[tuple[str, float]], wifi: bool, temperature: float, check_time: float
) -> bytes:
    out = struct.pack("<I", len(disks))
    for path, remain in disks:
        out += ros_string(path) + struct.pack("<f", remain)
    return out + struct.pack("<?f", wifi, temperature) + ros_time(check_time)


def switch_power_response(status: int) -> bytes:
    return one_byte(status)


def alive_status(name: str, result: int, t: float) -> bytes:
    return ros_string(name) + one_byte(result) + ros_time(t) + ros_time(t)


def header(
    t: float, last_command: int, split: int, index: int, port: int
) -> dict[int, bytes]:
    return {
        0: ros_time(t),
        1: struct.pack("<H", last_command),
        2: one_byte(split),
        3: one_byte(index),
        4: one_byte(port),
    }


def split(items: dict[int, bytes]) -> list[dict[int, bytes]]:
    """``split_telemetry_dict``: close a part once the getsizeof sum reaches 1,300."""
    parts: list[dict[int, bytes]] = []
    current: dict[int, bytes] = {}
    total = 0
    for key, value in items.items():
        size = sys.getsizeof(value)
        if current and total + size >= THRESHOLD:
            parts.append(current)
            current, total = {}, 0
        current[key] = value
        total += size
    if current:
        parts.append(current)
    return parts


def padded(data: bytes) -> bytes:
    """``send_telemetry``: zeros up to getsizeof 68, else to getsizeof % 4 == 0."""
    size = sys.getsizeof(data)
    if size < MIN_USER_DATA:
        return data + bytes(MIN_USER_DATA - size)
    return data + bytes((4 - size % 4) % 4)


def datagrams(
    items: dict[int, bytes], times: list[float], last_command: int, port: int
) -> list[bytes]:
    """One cycle of one sending socket: a datagram per part, header after the data."""
    parts = split(items)
    out = []
    for index, part in enumerate(parts, 1):
        data = dict(part)
        data.update(header(times[index - 1], last_command, len(parts), index, port))
        out.append(padded(pickle.dumps(data, protocol=3)))
    return out


def dock_record(
    counter: int,
    charge: int,
    motor: int,
    switch: int,
    result: int,
    motor_temp_c: float,
    dcdc_temp_c: float,
    current1_a: float,
    current2_a: float,
    alert: int,
    charge_time: int,
) -> bytes:
    return struct.pack(
        "<7BhhHHBH", counter, 0, charge, motor, switch, result, 3,
        round(motor_temp_c * 100), round(dcdc_temp_c * 100), round(current1_a * 100),
        round(current2_a * 100), alert, charge_time,
    )  # fmt: skip
