"""robosuite's table and arm with a scene's own objects: the base of the drawer and cup_stack scenes.

robosuite's Lift builds the table, the arm and one cube; ``TableSceneEnv`` keeps its table and arm,
puts the scene's objects (``scene_objects``) in place of the cube and leaves their placement to the
task (hitl_sim/mj/drawer_scene.py, hitl_sim/mj/cup_stack_scene.py), which draws it from its own
generator.
"""

from __future__ import annotations

import hitl_sim.mj.robosuite_tasks  # noqa: F401  (first: picks the GL backend before robosuite imports mujoco)

# isort: split
from robosuite.environments.manipulation.lift import Lift as SuiteLift
from robosuite.environments.manipulation.manipulation_env import ManipulationEnv
from robosuite.models.arenas import TableArena
from robosuite.models.objects import MujocoObject
from robosuite.models.tasks import ManipulationTask


class TableSceneEnv(SuiteLift):
    """robosuite's table + arm with the objects that ``scene_objects`` makes."""

    def scene_objects(self) -> list[MujocoObject]:
        """Make the scene's objects (and keep the references the task needs); the first one stands in
        for robosuite Lift's ``.cube``."""
        raise NotImplementedError

    def _load_model(self) -> None:
        ManipulationEnv._load_model(self)
        robot = self.robots[0].robot_model
        robot.set_base_xpos(robot.base_xpos_offset["table"](self.table_full_size[0]))
        arena = TableArena(table_full_size=self.table_full_size, table_friction=self.table_friction,
                           table_offset=self.table_offset)
        arena.set_origin([0, 0, 0])
        objects = self.scene_objects()
        self.cube = objects[0]  # robosuite Lift's own references use .cube
        self.model = ManipulationTask(mujoco_arena=arena, mujoco_robots=[r.robot_model for r in self.robots],
                                      mujoco_objects=objects)

    def _reset_internal(self) -> None:  # the task places the objects from its own generator
        ManipulationEnv._reset_internal(self)
