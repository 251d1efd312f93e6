"""Int-Ball2 ROS messages -> the console's robot channels (declared and undeclared).

Keyed by topic, so the bridge (ids resolved through the table) and the bag
importer (topics as recorded) map alike. Declared channels are the
dictionary's robot family (pose in the module frame, attitude, velocity,
navigation status, mode, control status, camera, battery, temperature,
disk, Wi-Fi); every other numeric field becomes an undeclared channel named
``<topic>.<field>`` (topic slashes as underscores). Stateless apart from
its transform: any thread may use one.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from telemetry.ib2.transform import FrameTransform

Values = dict[str, float | bool | None]
# ROS messages are classes rosbags generates at run time from the .msg data:
# no static type exists for them, hence ``Any`` for a message below.

# Arrays longer than this (a parameter dump, an image) are not telemetry the
# console plots; their first elements are kept and the rest left out.
MAX_ARRAY_ELEMENTS: Final = 16
# The protocol's limit on a channel name.
MAX_NAME: Final = 128
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_]+")

# Topics whose numeric fields are not kept as undeclared channels: the
# declared mapping covers what the operator uses, and the rest of these is
# the same pose again (control's target pose is mapped, see below).
_NAVIGATION: Final = "/sensor_fusion/navigation"
_NAV_STATUS: Final = "/sensor_fusion/navigation_status"
_CTL_STATUS: Final = "/ctl/status"
_MODE: Final = "/task_manager/mode"
_CAMERA: Final = "/camera_and_microphone/status"
_SYSTEM: Final = "/system_monitor/status"
_BATTERY: Final = "/dock/battery_charge_info"


def channel_prefix(topic: str) -> str:
    """Return a topic's channel prefix (``/prop/status``: ``prop_status``)."""
    return _UNSAFE.sub("_", topic.strip("/")) or "topic"


def _time_s(value: object) -> float | None:
    sec = getattr(value, "sec", None)
    nanosec = getattr(value, "nanosec", None)
    if isinstance(sec, int) and isinstance(nanosec, int):
        return sec + nanosec * 1e-9
    return None


def flatten(message: object, prefix: str, out: Values) -> None:
    """Add every numeric or boolean leaf of ``message`` as ``prefix.path``.

    Strings and headers are left out (a string channel is a state name, and
    these are paths and frame ids); times become seconds; arrays keep their
    first ``MAX_ARRAY_ELEMENTS`` elements as ``name_0``, ``name_1``, ...
    """
    if len(prefix) > MAX_NAME:
        return
    if isinstance(message, bool):
        out[prefix] = message
    elif isinstance(message, int | float | np.integer | np.floating):
        value = float(message)
        out[prefix] = value if math.isfinite(value) else None
    elif isinstance(message, np.ndarray):
        for i, v in enumerate(message.ravel()[:MAX_ARRAY_ELEMENTS]):
            flatten(v.item(), f"{prefix}_{i}", out)
    elif isinstance(message, list):
        for i, v in enumerate(message[:MAX_ARRAY_ELEMENTS]):
            flatten(v, f"{prefix}_{i}", out)
    elif dataclasses.is_dataclass(message):
        stamp = _time_s(message)
        if stamp is not None:
            out[prefix] = stamp
            return
        if type(message).__name__.endswith("Header"):
            return
        # rosbags declares constants (and __msgtype__) as ClassVar fields.
        notes = type(message).__annotations__
        for f in dataclasses.fields(message):
            if not str(notes.get(f.name, "")).startswith("ClassVar"):
                flatten(getattr(message, f.name), f"{prefix}.{f.name}", out)


class RobotMapper:
    """Maps one decoded message of a topic to channel values; immutable."""

    def __init__(self, transform: FrameTransform) -> None:
        self.transform = transform

    def map(self, topic: str, message: object, element: str = "") -> Values:
        """Return ``{channel: value}`` for ``message`` received on ``topic``.

        ``element`` names one element of a split topic (an alive-status name,
        an LED index): its channels are ``<topic>.<element>.<field>``.
        """
        out: Values = {}
        handler = _HANDLERS.get(topic)
        if handler is not None:
            handler(self, message, out)
            return out
        prefix = channel_prefix(topic)
        if element:
            prefix = f"{prefix}.{_UNSAFE.sub('_', element.strip('/'))}"
        flatten(message, prefix, out)
        return out

    def _navigation(self, msg: Any, out: Values) -> None:
        pose = msg.pose.pose
        p = pose.position
        o = pose.orientation
        x, y, z = self.transform.point((p.x, p.y, p.z))
        qx, qy, qz, qw = self.transform.attitude((o.x, o.y, o.z, o.w))
        twist = msg.twist
        v = self.transform.rotate((twist.linear.x, twist.linear.y, twist.linear.z))
        w = self.transform.rotate((twist.angular.x, twist.angular.y, twist.angular.z))
        acc = msg.a
        a = self.transform.rotate((acc.x, acc.y, acc.z))
        for name, value in (
            ("pos_x", x),
            ("pos_y", y),
            ("pos_z", z),
            ("quat_x", qx),
            ("quat_y", qy),
            ("quat_z", qz),
            ("quat_w", qw),
            ("vel_x", v[0]),
            ("vel_y", v[1]),
            ("vel_z", v[2]),
            ("navigation.ang_vel_x", w[0]),
            ("navigation.ang_vel_y", w[1]),
            ("navigation.ang_vel_z", w[2]),
            ("navigation.acc_x", a[0]),
            ("navigation.acc_y", a[1]),
            ("navigation.acc_z", a[2]),
        ):
            out[name] = value if math.isfinite(value) else None
        stamp = _time_s(msg.pose.header.stamp)
        out["navigation.solution_time"] = stamp
        self._nav_status(msg.status, out)

    def _nav_status(self, msg: Any, out: Values) -> None:
        out["nav_status"] = float(msg.status)
        out["nav_marker"] = float(bool(msg.marker))

    def _ctl_status(self, msg: Any, out: Values) -> None:
        out["ctl_type"] = float(msg.type.type)
        # Control's target pose: frame as navigation's (the controller works
        # on navigation's estimate), so it is transformed the same way.
        p = msg.pose.pose.position
        x, y, z = self.transform.point((p.x, p.y, p.z))
        out["ctl.target_x"], out["ctl.target_y"], out["ctl.target_z"] = x, y, z

    def _mode(self, msg: Any, out: Values) -> None:
        out["mode"] = float(msg.mode)

    def _camera(self, msg: Any, out: Values) -> None:
        out["cam_power"] = float(msg.camera_power.status)
        out["cam_stream"] = float(msg.streaming_status.status)
        out["cam_record"] = float(msg.recording_status.status)
        flatten(msg, "camera", out)

    def _system(self, msg: Any, out: Values) -> None:
        out["temp_c"] = float(msg.temperature)
        out["wifi"] = float(bool(msg.wifi_connected))
        disks = msg.disk_spaces
        remains = [float(d.remain) for d in disks[:MAX_ARRAY_ELEMENTS]]
        # The declared channel is the fullest disk (the GUI alarms per disk);
        # each disk is also its own undeclared channel.
        out["disk_remain_pct"] = min(remains) if remains else None
        for d in disks[:MAX_ARRAY_ELEMENTS]:
            name = _UNSAFE.sub("_", str(d.path).strip("/")) or "root"
            out[f"disk.{name}"[:MAX_NAME]] = float(d.remain)

    def _battery(self, msg: Any, out: Values) -> None:
        out["battery_pct"] = float(msg.battery_remain)


_HANDLERS: Final = {
    _NAVIGATION: RobotMapper._navigation,
    _NAV_STATUS: RobotMapper._nav_status,
    _CTL_STATUS: RobotMapper._ctl_status,
    _MODE: RobotMapper._mode,
    _CAMERA: RobotMapper._camera,
    _SYSTEM: RobotMapper._system,
    _BATTERY: RobotMapper._battery,
}
