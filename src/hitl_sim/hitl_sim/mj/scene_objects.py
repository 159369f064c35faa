"""MJCF models written here for the drawer and cup_stack scenes, as robosuite MujocoXMLObjects.

- ``cabinet_xml()``: a cabinet of three drawers side by side (one slide joint each, opening toward
  the robot along the cabinet's -x), each with a T-handle: a vertical fin sticking out of the
  drawer front (thin across y, so a top-down gripper with the default yaw pinches it) ending in a
  crossbar that hooks the fingers when pulling. The cabinet has no joint of its own: the task sets
  its body pose at every reset.
- ``cup_xml(...)``: an open cup (a disc bottom and a wall of boxes around it) with a free joint.

robosuite wants each object's XML file to hold ``<body><body name="object">...`` plus three sites;
collision geoms are group 0 (robosuite adds their visual copies), the files go to a temporary
directory made once per process.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

_DIR: Path | None = None


def _write(name: str, text: str) -> str:
    global _DIR
    if _DIR is None:
        _DIR = Path(tempfile.mkdtemp(prefix="hitl_mjcf_"))
    path = _DIR / f"{name}.xml"
    path.write_text(text)
    return str(path)


def _box(name: str, pos, half, rgba: str, extra: str = "") -> str:
    p = " ".join(f"{v:.5f}" for v in pos)
    s = " ".join(f"{v:.5f}" for v in half)
    return f'<geom name="{name}" type="box" pos="{p}" size="{s}" rgba="{rgba}" group="0" {extra}/>'


def _wrap(model: str, body: str, bottom: float, top: float, radius: float) -> str:
    return f"""<mujoco model="{model}">
  <worldbody>
    <body>
      <body name="object">
{body}
      </body>
      <site rgba="0 0 0 0" size="0.005" pos="0 0 {bottom:.4f}" name="bottom_site"/>
      <site rgba="0 0 0 0" size="0.005" pos="0 0 {top:.4f}" name="top_site"/>
      <site rgba="0 0 0 0" size="0.005" pos="{radius:.4f} {radius:.4f} 0" name="horizontal_radius_site"/>
    </body>
  </worldbody>
</mujoco>
"""


@dataclass(frozen=True)
class CabinetGeometry:
    """Cabinet dimensions (m). Cabinet frame: origin at the middle of the front face's bottom edge on
    the table, x into the cabinet (away from the robot), z up; drawer k's bay centre is at y = BAY_Y[k]."""

    depth: float = 0.24
    bay: float = 0.12  # bay width (y)
    wall: float = 0.01
    height: float = 0.12
    front_h: float = 0.10  # drawer front height
    handle_z: float = 0.075  # fin centre height above the table
    fin_len: float = 0.05  # fin sticks out this far from the drawer front
    fin_half_w: float = 0.006  # fin half thickness (y): the fingers pinch this
    fin_half_h: float = 0.018
    bar_half: tuple[float, float, float] = (0.005, 0.018, 0.018)  # crossbar at the fin's end
    travel: float = 0.20  # slide range

    @property
    def width(self) -> float:
        return 3 * self.bay + 4 * self.wall

    def bay_y(self, k: int) -> float:
        return (k - 1) * (self.bay + self.wall)

    def grasp_x(self) -> float:
        """Handle grasp point (fin, just behind the crossbar) in the cabinet frame, drawer closed."""
        return -(self.fin_len - 0.022)


CABINET = CabinetGeometry()
WOOD = "0.55 0.38 0.22 1"
DRAWER = "0.75 0.6 0.42 1"
HANDLE = "0.25 0.25 0.28 1"


def cabinet_xml(g: CabinetGeometry = CABINET) -> str:
    """The cabinet MJCF file's path (see the module docstring)."""
    w2, d, h, t = g.width / 2, g.depth, g.height, g.wall
    parts = [
        _box("top", (d / 2, 0, h - t / 2), (d / 2, w2, t / 2), WOOD),
        _box("back", (d - t / 2, 0, h / 2), (t / 2, w2, h / 2), WOOD),
        _box("floor", (d / 2, 0, t / 4), (d / 2, w2, t / 4), WOOD),
    ]
    for i in range(4):  # side walls and dividers
        y = -w2 + t / 2 + i * (g.bay + t)
        parts.append(_box(f"wall{i}", (d / 2, y, h / 2), (d / 2, t / 2, h / 2), WOOD))
    inner_d = d - 2 * t
    bottom_z = t / 2 + 0.004
    for k in range(3):
        y = g.bay_y(k)
        half_bay = g.bay / 2 - 0.004  # a little play in the bay
        fz = bottom_z + g.front_h / 2
        fin_x = -g.fin_len / 2
        drawer = [
            _box(f"d{k}_front", (t / 2, 0, fz), (t / 2, half_bay, g.front_h / 2), DRAWER),
            _box(f"d{k}_bottom", (inner_d / 2, 0, bottom_z + 0.003), (inner_d / 2, half_bay, 0.003), DRAWER),
            _box(f"d{k}_back", (inner_d - t / 2, 0, bottom_z + 0.03), (t / 2, half_bay, 0.03), DRAWER),
            _box(f"d{k}_left", (inner_d / 2, half_bay - 0.003, bottom_z + 0.03), (inner_d / 2, 0.003, 0.03), DRAWER),
            _box(f"d{k}_right", (inner_d / 2, -half_bay + 0.003, bottom_z + 0.03), (inner_d / 2, 0.003, 0.03), DRAWER),
            _box(f"d{k}_fin", (fin_x, 0, g.handle_z), (g.fin_len / 2, g.fin_half_w, g.fin_half_h), HANDLE,
                 'friction="1.5 0.01 0.001"'),
            _box(f"d{k}_bar", (-g.fin_len - g.bar_half[0], 0, g.handle_z), g.bar_half, HANDLE,
                 'friction="1.5 0.01 0.001"'),
        ]
        parts.append(
            f'<body name="drawer{k}" pos="0.0005 {y:.5f} 0">\n'
            f'  <joint name="slide{k}" type="slide" axis="-1 0 0" range="0 {g.travel:.3f}" limited="true" '
            f'damping="8" frictionloss="0.5" armature="0.05"/>\n'
            f'  <inertial pos="{inner_d / 2:.4f} 0 0.04" mass="0.6" diaginertia="0.004 0.004 0.004"/>\n'
            + "\n".join("  " + p for p in drawer)
            + "\n</body>"
        )
    return _write("cabinet", _wrap("cabinet", "\n".join(parts), 0.0, h, w2))


@dataclass(frozen=True)
class CupGeometry:
    radius: float  # outer radius of the wall
    height: float
    wall: float = 0.004
    bottom: float = 0.006
    n_wall: int = 16


SMALL_CUP = CupGeometry(radius=0.026, height=0.07)
BIG_CUP = CupGeometry(radius=0.05, height=0.065, wall=0.005)


def cup_xml(name: str, g: CupGeometry, rgba: str, density: float = 600.0) -> str:
    """An open cup's MJCF file path: origin at the centre of its bottom face."""
    half_side = g.radius * math.tan(math.pi / g.n_wall) * 1.02
    parts = [
        f'<geom name="bottom" type="cylinder" pos="0 0 {g.bottom / 2:.4f}" size="{g.radius:.4f} {g.bottom / 2:.4f}" '
        f'rgba="{rgba}" group="0" density="{density}" friction="1.2 0.01 0.001"/>'
    ]
    zc = g.height / 2
    r_mid = g.radius - g.wall / 2
    for i in range(g.n_wall):
        a = 2 * math.pi * i / g.n_wall
        q = (math.cos(a / 2), 0.0, 0.0, math.sin(a / 2))
        parts.append(
            f'<geom name="wall{i}" type="box" pos="{r_mid * math.cos(a):.5f} {r_mid * math.sin(a):.5f} {zc:.4f}" '
            f'quat="{q[0]:.6f} 0 0 {q[3]:.6f}" size="{g.wall / 2:.4f} {half_side:.4f} {g.height / 2:.4f}" '
            f'rgba="{rgba}" group="0" density="{density}" friction="1.2 0.01 0.001"/>'
        )
    return _write(name, _wrap(name, "\n".join(parts), 0.0, g.height, g.radius))
