"""robosuite-models' Yumi standing on the table, as a real YuMi does (registers ``YumiOnTable`` with robosuite).

robosuite-models puts Yumi on a pedestal with its base 0.162 m above robosuite's table top, so its
arms cannot bring a top-down gripper below ~0.12 m over the table (measured: >= 10 cm position error
for every target at 2 cm, on a grid x 0.30..0.54, y -0.05..0.35). The only change here: the base
sits on the table top (z offset 0.05 - 0.162 = -0.112 m), as the arm profile's workspace assumes
(z = 0 is the base and the table; src/hitl_sim/hitl_sim/config/arms/yumi.yaml).
"""

from __future__ import annotations

from robosuite.robots import register_robot_class
from robosuite_models.robots.manipulators.yumi_robot import Yumi

BASE_DROP = 0.162  # robosuite-models' Yumi base height above robosuite's table top (m)


@register_robot_class("FixedBaseRobot")
class YumiOnTable(Yumi):
    """Yumi with its base on the table top (arms right, left as in robosuite-models)."""

    @property
    def default_controller_config(self):
        return {"right": "default_yumi", "left": "default_yumi"}

    @property
    def base_xpos_offset(self):
        z = 0.05 - BASE_DROP
        return {
            "bins": (-0.5, -0.1, z),
            "empty": (-0.29, 0, z),
            "table": lambda table_length: (-0.26 - table_length / 2, 0, z),
        }
