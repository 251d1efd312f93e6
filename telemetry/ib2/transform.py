"""The rigid transform from Int-Ball2's navigation frame to the map's module frame.

Int-Ball2 reports its pose in the docking-station frame; the console's map,
keep-in box and zones are in the JPM frame. The transform is data
(``resources/ib2/frames.toml``, with its source). Immutable once loaded.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telemetry.core.dictionary import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

FRAMES_FILE: Final = REPO_ROOT / "resources" / "ib2" / "frames.toml"

Vector = tuple[float, float, float]
Quaternion = tuple[float, float, float, float]  # x, y, z, w


def _multiply(a: Quaternion, b: Quaternion) -> Quaternion:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


@dataclass(frozen=True, slots=True)
class FrameTransform:
    """``to = rotation * from + translation`` (unit quaternion x, y, z, w); frozen."""

    from_frame: str
    to_frame: str
    translation: Vector
    rotation: Quaternion

    @classmethod
    def load(cls, path: Path = FRAMES_FILE) -> FrameTransform:
        """Read a frames file's ``[navigation]``; ``ValueError`` says what is wrong."""
        try:
            nav = tomllib.loads(path.read_text("utf-8"))["navigation"]
            t = [float(v) for v in nav["translation_m"]]
            q = [float(v) for v in nav["rotation_xyzw"]]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [navigation] unusable: {exc}") from None
        norm = math.sqrt(sum(v * v for v in q))
        if len(t) != 3 or len(q) != 4 or not 0.999 < norm < 1.001:
            raise ValueError(
                f"{path}: [navigation] needs translation_m [x, y, z] and a unit "
                f"rotation_xyzw [x, y, z, w], got {t} and {q}"
            )
        return cls(
            str(nav.get("from_frame", "")),
            str(nav.get("to_frame", "")),
            (t[0], t[1], t[2]),
            (q[0], q[1], q[2], q[3]),
        )

    def rotate(self, v: Vector) -> Vector:
        x, y, z, w = self.rotation
        rx, ry, rz, _ = _multiply(
            _multiply(self.rotation, (v[0], v[1], v[2], 0.0)), (-x, -y, -z, w)
        )
        return rx, ry, rz

    def point(self, p: Vector) -> Vector:
        """Return a position in the target frame."""
        r = self.rotate(p)
        tx, ty, tz = self.translation
        return r[0] + tx, r[1] + ty, r[2] + tz

    def attitude(self, q: Quaternion) -> Quaternion:
        """Return an attitude (body to frame) in the target frame."""
        return _multiply(self.rotation, q)

    def inverse(self) -> FrameTransform:
        """Return the transform the other way (the simulator's encoder uses it)."""
        x, y, z, w = self.rotation
        back = FrameTransform(
            self.to_frame, self.from_frame, (0.0, 0.0, 0.0), (-x, -y, -z, w)
        )
        tx, ty, tz = back.rotate(self.translation)
        return FrameTransform(
            self.to_frame, self.from_frame, (-tx, -ty, -tz), back.rotation
        )
