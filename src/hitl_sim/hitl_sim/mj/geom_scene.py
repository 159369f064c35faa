"""SceneItems (RViz markers, hitl_sim.core.SceneItem) from a MuJoCo model's geoms.

A SceneItem is a box, cylinder or sphere with a yaw only, so each geom becomes: a sphere as is; an
upright box or cylinder (local z along world z) with its yaw; anything else (tilted primitives,
meshes through their bounding box) as the world-aligned box around it. Positions are in MuJoCo's
world frame; the tasks here put the arm's base at the world origin, so that is the base frame.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from hitl_sim.core import SceneItem

_UPRIGHT = 0.999  # |R[2, 2]| above this: the geom's z axis is vertical


def body_geoms(model: mujoco.MjModel, bodies: list[str], subtree: bool = True) -> list[int]:
    """Geom ids of the named bodies (and their descendants when ``subtree``)."""
    roots = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in bodies}
    if -1 in roots:
        missing = [b for b in bodies if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) < 0]
        raise ValueError(f"no bodies named {missing} in the model")
    keep = set(roots)
    if subtree:
        for b in range(model.nbody):  # parents come before children in MuJoCo's body order
            if int(model.body_parentid[b]) in keep and b != 0:
                keep.add(b)
    return [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) in keep]


def _color(model: mujoco.MjModel, g: int) -> tuple[float, float, float, float]:
    mat = int(model.geom_matid[g])
    rgba = model.mat_rgba[mat] if mat >= 0 else model.geom_rgba[g]
    return tuple(float(c) for c in rgba)  # type: ignore[return-value]


def geom_item(model: mujoco.MjModel, data: mujoco.MjData, g: int, name: str | None = None) -> SceneItem | None:
    """One geom as a SceneItem (None for planes, which the caller draws as a table if at all)."""
    gtype = int(model.geom_type[g])
    if gtype == mujoco.mjtGeom.mjGEOM_PLANE:
        return None
    pos = data.geom_xpos[g].copy()
    rot = data.geom_xmat[g].reshape(3, 3)
    size = model.geom_size[g]
    label = name or model.geom(g).name or f"geom{g}"
    color = _color(model, g)
    if gtype == mujoco.mjtGeom.mjGEOM_SPHERE:
        d = 2 * float(size[0])
        return SceneItem(label, "sphere", tuple(pos), (d, d, d), 0.0, color)
    upright = abs(rot[2, 2]) > _UPRIGHT
    yaw = math.atan2(rot[1, 0], rot[0, 0])
    if gtype == mujoco.mjtGeom.mjGEOM_CYLINDER and upright:
        d = 2 * float(size[0])
        return SceneItem(label, "cylinder", tuple(pos), (d, d, 2 * float(size[1])), yaw, color)
    if gtype == mujoco.mjtGeom.mjGEOM_BOX:
        half = size.copy()
        centre = np.zeros(3)
    elif gtype == mujoco.mjtGeom.mjGEOM_CYLINDER:
        half = np.array([size[0], size[0], size[1]])
        centre = np.zeros(3)
    elif gtype == mujoco.mjtGeom.mjGEOM_CAPSULE:
        half = np.array([size[0], size[0], size[1] + size[0]])
        centre = np.zeros(3)
    else:  # mesh, ellipsoid, ...: the bounding box MuJoCo keeps in the geom frame
        aabb = model.geom_aabb[g]
        centre, half = aabb[:3].copy(), aabb[3:].copy()
    pos = pos + rot @ centre
    if upright:
        return SceneItem(label, "box", tuple(pos), tuple(2 * half), yaw, color)
    world_half = np.abs(rot) @ half
    return SceneItem(label, "box", tuple(pos), tuple(2 * world_half), 0.0, color)


def geom_items(
    model: mujoco.MjModel, data: mujoco.MjData, bodies: list[str], prefix: str = "", min_size: float = 0.004
) -> list[SceneItem]:
    """SceneItems of the visible geoms (alpha > 0) of ``bodies`` and their children, smaller ones dropped."""
    out = []
    for g in body_geoms(model, bodies):
        if model.geom_rgba[g][3] <= 0 and int(model.geom_matid[g]) < 0:
            continue
        item = geom_item(model, data, g)
        if item is None or max(item.size) < min_size:
            continue
        if prefix:
            item.name = f"{prefix}{item.name}"
        out.append(item)
    return out
