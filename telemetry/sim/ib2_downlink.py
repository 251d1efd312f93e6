"""The simulator's robot as Int-Ball2's own UDP downlink (``sim --ib2-udp``).

Production encoder, written from JAXA's flight sender (int-ball2-downlink.md
sections 2-5): per sending socket, a dict of telemetry id -> ROS 1 bytes of
the latest message, split at 1,300 bytes of ``sys.getsizeof``, header ids
added after the data, ``pickle.dumps(protocol=3)``, zero padding; the
battery from a separate minimal publisher every 3 s (port index 0xFF); the
docking station's 18-byte record. Pose goes out in the docking-station
frame, as the robot reports it. The tests have their own encoder, so the
bridge is checked against the description rather than against this file.
Owned by the simulator's publishing thread.
"""

from __future__ import annotations

import math
import pickle
import socket
import sys
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from telemetry.bus.publisher import RawMessage
from telemetry.ib2.dock import encode_dock
from telemetry.ib2.messages import ib2_typestore
from telemetry.ib2.table import TelemetryTable
from telemetry.ib2.transform import FrameTransform

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from telemetry.bus.publisher import FrameLike
    from telemetry.core.dictionary import TelemetryDictionary

SPLIT_THRESHOLD: Final = 1300  # original_telemetry_message_size_threshold
MIN_USER_DATA: Final = 68  # lex_min_user_data_bytes
MAX_DATAGRAM: Final = 1472
MINIMAL_PERIOD_S: Final = 3.0  # sim_minimal_telemetry_publisher.py
# Socket 1 carries the robot's state topics (bind_port_index 1); socket 0
# the "split" families (alive statuses here).
_STATE_PORT: Final = 1
_ALIVE_TOPICS: Final = (
    "/ctl/status",
    "/sensor_fusion/navigation",
    "/task_manager/mode",
)
_CMD_CTL: Final = 5001  # /trans_communication/action_goal
_CMD_STREAM: Final = 2001  # /camera_and_microphone/switch_power
# Eight fans at a hover duty (the simulator has no propulsion model).
_FAN_DUTY: Final = np.array([0.1, 0.1, 0.12, 0.1, 0.1, 0.1, 0.11, 0.1])


def split_items(
    items: dict[int, bytes], threshold: int = SPLIT_THRESHOLD
) -> list[dict[int, bytes]]:
    """Split a telemetry dict as ``split_telemetry_dict`` does (getsizeof sums)."""
    parts: list[dict[int, bytes]] = []
    current: dict[int, bytes] = {}
    total = 0
    for tid, value in items.items():
        size = sys.getsizeof(value)
        if current and total + size >= threshold:
            parts.append(current)
            current, total = {}, 0
        current[tid] = value
        total += size
    if current:
        parts.append(current)
    return parts[:255]


def pad(pickled: bytes, minimum: int = MIN_USER_DATA, align: bool = True) -> bytes:
    """Append the sender's zero padding (getsizeof to 68, else to a multiple of 4)."""
    size = sys.getsizeof(pickled)
    if size < minimum:
        return pickled + bytes(minimum - size)
    if align and size % 4:
        return pickled + bytes(4 - size % 4)
    return pickled


class Ib2DownlinkSender:
    """A simulated robot and dock sent as Int-Ball2 datagrams; publishing thread's."""

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        target: tuple[str, int],
        dock_target: tuple[str, int] | None = None,
        source: str = "ib2-a",
    ) -> None:
        self.dictionary = dictionary
        self.target = target
        self.dock_target = dock_target
        self.source = source
        self.table = TelemetryTable.load()
        self.to_dock = FrameTransform.load().inverse()
        self.store = ib2_typestore()
        self.types = self.store.types
        self.ports = [
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)
        ]
        self.items: list[dict[int, bytes]] = [{}, {}]
        self.pending: list[list[dict[int, bytes]]] = [[], []]
        self.last_command = 0
        self.previous: dict[str, Any] = {}
        self.next_minimal = -math.inf
        self.dock_counter = 0
        self.sent = 0
        self.seq = 0

    def close(self) -> None:
        for sock in self.ports:
            sock.close()

    def tee(
        self, frames: Iterable[FrameLike | RawMessage]
    ) -> Iterator[FrameLike | RawMessage]:
        """Pass ``frames`` on, sending this robot's rows as datagrams on the way."""
        for frame in frames:
            # A fault-injected run yields encoded messages: not sent as UDP.
            if not isinstance(frame, RawMessage) and frame.source == self.source:
                times = frame.times
                columns = frame.columns
                for i, t in enumerate(times):
                    self.send_row(float(t), {k: v[i] for k, v in columns.items()})
            yield frame

    def _code(self, name: str, value: Any) -> int:
        if isinstance(value, str):
            spec = self.dictionary.channel("robot", name)
            return spec.states.get(value, 0) if spec is not None else 0
        return int(value)

    def _ros(self, typename: str, **fields: Any) -> bytes:
        name = f"{typename.split('/')[0]}/msg/{typename.split('/')[1]}"
        return bytes(self.store.serialize_ros1(self.types[name](**fields), name))

    def _time(self, t: float) -> Any:
        sec = math.floor(t)
        return self.types["builtin_interfaces/msg/Time"](
            sec=sec, nanosec=min(int((t - sec) * 1e9), 999_999_999)
        )

    def _messages(self, t: float, row: dict[str, Any]) -> dict[int, bytes]:
        T = self.types
        px, py, pz = self.to_dock.point(
            (float(row["pos_x"]), float(row["pos_y"]), float(row["pos_z"]))
        )
        qx, qy, qz, qw = self.to_dock.attitude(
            (
                float(row["quat_x"]),
                float(row["quat_y"]),
                float(row["quat_z"]),
                float(row["quat_w"]),
            )
        )
        vel = self.to_dock.rotate(
            (float(row["vel_x"]), float(row["vel_y"]), float(row["vel_z"]))
        )
        vec = T["geometry_msgs/msg/Vector3"]
        pose = T["geometry_msgs/msg/PoseStamped"](
            header=T["std_msgs/msg/Header"](
                seq=self.seq, stamp=self._time(t - 0.1), frame_id="iss_body"
            ),
            pose=T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=px, y=py, z=pz),
                orientation=T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw),
            ),
        )
        twist = T["geometry_msgs/msg/Twist"](
            linear=vec(x=vel[0], y=vel[1], z=vel[2]), angular=vec(x=0.0, y=0.0, z=0.0)
        )
        nav_code = self._code("nav_status", row["nav_status"])
        marker = bool(row["nav_marker"])
        status = T["ib2_msgs/msg/NavigationStatus"](status=nav_code, marker=marker)
        power = T["ib2_msgs/msg/PowerStatus"]
        out = {
            101: self._ros(
                "ib2_msgs/CtlStatus",
                pose=pose,
                twist=twist,
                a=vec(x=0.0, y=0.0, z=0.0),
                type=T["ib2_msgs/msg/CtlStatusType"](
                    type=self._code("ctl_type", row["ctl_type"])
                ),
            ),
            201: self._ros(
                "ib2_msgs/FanStatus",
                header=T["std_msgs/msg/Header"](
                    seq=self.seq, stamp=self._time(t), frame_id=""
                ),
                duty=T["std_msgs/msg/Float64MultiArray"](
                    layout=T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
                    data=_FAN_DUTY,
                ),
                current_power=power(status=1),
            ),
            302: self._ros(
                "ib2_msgs/Navigation",
                pose=pose,
                twist=twist,
                a=vec(x=0.0, y=0.0, z=0.0),
                status=status,
            ),
            306: self._ros("ib2_msgs/NavigationStatus", status=nav_code, marker=marker),
            2005: self._ros(
                "ib2_msgs/MainCameraStatus",
                streaming_status=power(
                    status=self._code("cam_stream", row["cam_stream"])
                ),
                recording_status=power(
                    status=self._code("cam_record", row["cam_record"])
                ),
                camera_power=power(status=self._code("cam_power", row["cam_power"])),
                microphone_power=power(status=1),
                zoom=1.0,
                resolution_type=T["ib2_msgs/msg/MainCameraResolutionType"](type=1),
                EV=0.0,
                camera_gain=0.0,
                white_balance_mode=T["ib2_msgs/msg/MainCameraWhiteBalanceMode"](mode=1),
                frame_rate=15.0,
                sending_bit_rate=2.0,
                microphone_gain=0.0,
            ),
            5001: self._ros("ib2_msgs/Mode", mode=self._code("mode", row["mode"])),
            5201: self._ros(
                "ib2_msgs/SystemStatus",
                disk_spaces=[
                    T["ib2_msgs/msg/DiskSpace"](
                        path="/", remain=float(row["disk_remain_pct"])
                    ),
                    T["ib2_msgs/msg/DiskSpace"](path="/home/nvidia/IB2", remain=90.0),
                ],
                wifi_connected=bool(row["wifi"]),
                temperature=float(row["temp_c"]),
                check_time=self._time(t),
            ),
        }
        return out

    def _alive(self, t: float) -> dict[int, bytes]:
        """Alive statuses, one id per monitored topic (the "split" family 13000-)."""
        return {
            13000 + i: self._ros(
                "ib2_msgs/AliveStatus",
                name=name,
                result=0,
                latest_valid_time=self._time(t),
                check_time=self._time(t),
            )
            for i, name in enumerate(_ALIVE_TOPICS)
        }

    def _header(
        self, t: float, split: tuple[int, int], port: int, command: int
    ) -> dict[int, bytes]:
        h = self.table.header
        return {
            h["timestamp"]: self._ros("std_msgs/Time", data=self._time(t)),
            h["last_executed_command"]: self._ros("std_msgs/UInt16", data=command),
            h["split_number"]: self._ros("std_msgs/UInt8", data=split[0]),
            h["current_split_index"]: self._ros("std_msgs/UInt8", data=split[1]),
            h["sending_port_index"]: self._ros("std_msgs/UInt8", data=port),
        }

    def _commands(self, t: float, row: dict[str, Any]) -> None:
        """Set the last executed command from a change an operator would command."""
        if "ctl_type" in self.previous and row["ctl_type"] != self.previous["ctl_type"]:
            self.last_command = _CMD_CTL
        if (
            "cam_stream" in self.previous
            and row["cam_stream"] != self.previous["cam_stream"]
        ):
            self.last_command = _CMD_STREAM
            response = self._ros(
                "ib2_msgs/SwitchPowerResponse",
                current_power=self.types["ib2_msgs/msg/PowerStatus"](
                    status=self._code("cam_stream", row["cam_stream"])
                ),
            )
            # add_timestamp: the response, then when it was stored.
            self.items[_STATE_PORT][2001] = response + self._ros(
                "std_msgs/Time", data=self._time(t)
            )
        self.previous = dict(row)

    def send_row(self, t: float, row: dict[str, Any]) -> None:
        """Update the robot's latest messages at sample time ``t``; send one period."""
        self.seq += 1
        self._commands(t, row)
        self.items[_STATE_PORT].update(self._messages(t, row))
        self.items[0].update(self._alive(t))
        for port in (0, 1):
            # One datagram per socket per period: a new cycle starts when the
            # last one's parts are all sent.
            if not self.pending[port]:
                self.pending[port] = split_items(self.items[port])
                self.pending[port].reverse()
            parts = len(split_items(self.items[port]))
            part = self.pending[port].pop()
            index = parts - len(self.pending[port])
            data = dict(part)
            data.update(self._header(t, (parts, index), port, self.last_command))
            self._send(port, pad(pickle.dumps(data, protocol=3)), self.target)
        if t >= self.next_minimal:
            self.next_minimal = t + MINIMAL_PERIOD_S
            data = self._header(t, (1, 1), 0xFF, 0xFFFF)
            battery = max(-128, min(127, int(row["battery_pct"])))
            data[2301] = self._ros("ib2_msgs/BatteryChargeInfo", battery_remain=battery)
            data[9001] = self._ros("std_msgs/Bool", data=True)
            data[9002] = self._ros("std_msgs/Bool", data=True)
            self._send(2, pad(pickle.dumps(data, protocol=3), align=False), self.target)
        if self.dock_target is not None:
            self._send(2, self._dock_record(row), self.dock_target)

    def _dock_record(self, row: dict[str, Any]) -> bytes:
        self.dock_counter = (self.dock_counter + 1) % 256
        docked = row["mode"] in ("DOCKING", "STANDBY", 3, 0) and bool(row["nav_marker"])
        return encode_dock(
            {
                "telemetry_counter": self.dock_counter,
                "command_counter": 0,
                "charge": 1 if docked else 2,
                "motor": 1,
                "switch": 2 if docked else 1,
                "command_result": 1,
                "version": 1,
                "motor_temp_c": 24.5,
                "dcdc_temp_c": 31.0 if docked else 26.0,
                "power1_current_a": 1.2 if docked else 0.0,
                "power2_current_a": 0.3,
                "temp_alert": 0,
                "charge_time": 60 if docked else 0,
            }
        )

    def _send(self, port: int, data: bytes, target: tuple[str, int]) -> None:
        if len(data) > MAX_DATAGRAM:
            return  # the robot warns and skips (MAX_BUFFER_SIZE); so does the sim
        try:
            self.ports[port].sendto(data, target)
            self.sent += 1
        except OSError:
            pass  # UDP to nobody (ICMP refused): the robot carries on too
