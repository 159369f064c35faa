"""MILE's Metaworld v3 tasks (drawer_open, peg_insert, button_press) behind the MjTask contract.

Robot: Metaworld's Sawyer, always (Metaworld ships no other arm); the tasks accept only the arm
profile ``sawyer`` (hitl_sim/config/arms/sawyer.yaml), so no result is ever reported under a
Franka/YuMi/WidowX name. The hand keeps a fixed orientation, so yaw is held at 0:

- **Action** ``[x, y, z, yaw, gripper]`` (the stack's end-effector action; yaw ignored, reported 0):
  absolute hand target (m, world = base frame) and gripper
  (0 open .. 1 closed). Metaworld moves a mocap body that the hand follows, by ``delta * 1 cm`` per
  step with ``delta`` clipped to [-1, 1] per axis; ``apply`` sends ``delta = (target - mocap) / 1 cm``
  (so a target is tracked at up to 1 cm per axis per step and a target at the hand stops it) and the
  grab effort ``2 * gripper - 1``. Metaworld then clips the mocap to its box.
- **Observation** (15): x, y, z (hand), yaw (0), gripper (``1 - `` Metaworld's normalized finger distance,
  0 open .. 1 closed), obj_pos (3) and obj_quat (4) as Metaworld reports them (drawer: the handle
  position and the drawer's quaternion w-first; peg: the peg's grasp point and its quaternion
  x-first; button: the button's face and its quaternion w-first), goal (3: the drawer's open handle
  position, the hole's mouth, the pressed button's face; fixed by the cabinet / box / button-box
  pose, which a camera sees). Left out: Metaworld's zero padding and its previous frame.
- **State**: Metaworld's 39-D goal-observable observation (hand, finger distance, 14 object values,
  the previous frame's 18, goal) then the mocap position: Metaworld's scripted policy reads the
  first 39, the conversion to an absolute target needs the mocap.
- **Expert**: ``metaworld.policies.Sawyer*V3Policy`` on those 39 values, its delta turned into the
  absolute target ``mocap + clip(delta) * 1 cm`` (exactly the delta again after ``apply``).
- **Episode**: success = Metaworld's ``info["success"]``; no failure state (Metaworld has none);
  positions drawn from Metaworld's own reset ranges with the episode's generator.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import metaworld  # noqa: F401  (registers the Meta-World/* gym ids)
import numpy as np
from metaworld.policies import (
    SawyerButtonPressV3Policy,
    SawyerDrawerOpenV3Policy,
    SawyerPegInsertionSideV3Policy,
)

from hitl_sim.arms import ArmProfile
from hitl_sim.core import SceneItem
from hitl_sim.mj.base import MjExpert, MjTask
from hitl_sim.mj.geom_scene import geom_items

MW_OBS = 39
OBS_NAMES = (["x", "y", "z", "yaw", "gripper"] + [f"obj_pos_{i}" for i in range(3)]
             + [f"obj_quat_{i}" for i in range(4)] + [f"goal_{i}" for i in range(3)])
STATE_NAMES = (
    ["mw_hand_x", "mw_hand_y", "mw_hand_z", "mw_finger_dist"]
    + [f"mw_obj_{i}" for i in range(14)]
    + [f"mw_prev_{i}" for i in range(18)]
    + ["mw_goal_x", "mw_goal_y", "mw_goal_z", "mocap_x", "mocap_y", "mocap_z"]
)


def _quiet_make(env_name: str, seed: int):
    """The unwrapped Metaworld env (the gym checkers only warn about Metaworld's own spaces)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make("Meta-World/goal_observable", env_name=env_name, seed=seed).unwrapped


class MetaworldTask(MjTask):
    """One Metaworld v3 env; subclasses set ``env_name``, ``max_steps`` and the bodies to draw."""

    variants: ClassVar[tuple[str, ...]] = ("train",)
    arms: ClassVar[tuple[str, ...]] = ("sawyer",)
    own_arm_only: ClassVar[bool] = True
    unsupported: ClassVar[dict[str, str]] = {
        a: "Metaworld's own Sawyer only: Metaworld ships no other arm (profile 'sawyer')"
        for a in ("franka", "widowx", "yumi")
    }
    env_name: ClassVar[str] = ""
    episode_steps: ClassVar[int] = 500  # Metaworld's max_path_length
    scene_bodies: ClassVar[tuple[str, ...]] = ()

    def __init__(self, arm: ArmProfile, variant: str = "train") -> None:
        super().__init__(arm, variant)
        self.env = _quiet_make(self.env_name, seed=0)
        self.scale = float(self.env.action_scale)
        self.dt = float(self.env.dt)
        self.max_steps = self.episode_steps
        # the stack's end-effector action (x, y, z, yaw, gripper); the Sawyer's hand does not turn in
        # Metaworld, so yaw is held at 0 (a target's yaw is ignored) and the arbiter's filters apply as usual
        self.action_names = ["x", "y", "z", "yaw", "gripper"]
        self.obs_names = list(OBS_NAMES)
        self.state_names = list(STATE_NAMES)
        self._mw_obs = np.zeros(MW_OBS)
        self._success = False
        self._unstable = False

    # ---------------------------------------------------------------- episodes
    def reset(self, rng: np.random.Generator) -> None:
        space = self.env._random_reset_space
        self.env._last_rand_vec = rng.uniform(space.low, space.high)  # frozen: reset_model uses it
        self.env._freeze_rand_vec = True
        self.env._did_see_sim_exception = False
        obs, _ = self.env.reset()
        self._mw_obs = np.asarray(obs, float)
        self._success = False
        self._unstable = False

    def apply(self, action: np.ndarray) -> None:
        mocap = self.env.data.mocap_pos[0]
        delta = np.clip((np.asarray(action[:3], float) - mocap) / self.scale, -1.0, 1.0)
        effort = 2.0 * float(np.clip(action[4], 0.0, 1.0)) - 1.0
        obs, _r, _term, _trunc, info = self.env.step(np.append(delta, effort).astype(np.float32))
        self._mw_obs = np.asarray(obs, float)
        self._success = bool(info["success"] > 0)
        self._unstable = bool(self.env._did_see_sim_exception)

    def evaluate(self) -> tuple[bool, bool]:
        return self._success, self._unstable

    # ------------------------------------------------------------------- views
    def current_action(self) -> np.ndarray:
        o = self._mw_obs
        return np.array([o[0], o[1], o[2], 0.0, 1.0 - o[3]])

    def observe(self) -> np.ndarray:
        o = self._mw_obs
        return np.concatenate([self.current_action(), o[4:11], o[36:39]]).astype(np.float32)

    def state(self) -> np.ndarray:
        return np.concatenate([self._mw_obs, self.env.data.mocap_pos[0]]).astype(float)

    def scene(self) -> list[SceneItem]:
        return geom_items(self.env.model, self.env.data, list(self.scene_bodies))

    def close(self) -> None:
        self.env.close()


class DrawerOpenTask(MetaworldTask):
    name = "drawer_open"
    env_name = "drawer-open-v3"
    scene_bodies = ("drawer",)


class PegInsertTask(MetaworldTask):
    name = "peg_insert"
    env_name = "peg-insert-side-v3"
    scene_bodies = ("peg", "box")


class ButtonPressTask(MetaworldTask):
    name = "button_press"
    env_name = "button-press-v3"
    scene_bodies = ("box",)


class MetaworldExpert(MjExpert):
    """Metaworld's scripted policy, its delta action turned into our absolute target (state only)."""

    policy_cls: ClassVar[type] = SawyerDrawerOpenV3Policy
    scale: ClassVar[float] = 0.01  # Metaworld's action_scale (1 cm per unit)

    def __init__(self, style: int | None = None, noise: float = 0.0, seed: int = 0, **opts) -> None:
        super().__init__(style, noise, seed, **opts)
        self.policy = self.policy_cls()

    def act(self, state: np.ndarray, obs: np.ndarray | None = None) -> np.ndarray:
        import warnings

        state = np.atleast_2d(np.asarray(state, float))
        if state.shape[1] != len(STATE_NAMES):
            raise ValueError(f"state has {state.shape[1]} columns; expected {len(STATE_NAMES)}")
        out = np.zeros((len(state), 5))  # x, y, z, yaw (held at 0), gripper
        with warnings.catch_warnings():  # "Constant(s) may be too high": Metaworld clips, so do we
            warnings.simplefilter("ignore")
            for i, row in enumerate(state):
                delta = np.clip(self.policy.get_action(self.policy_view(row[:MW_OBS])), -1.0, 1.0)
                out[i, :3] = row[MW_OBS : MW_OBS + 3] + delta[:3] * self.scale
                out[i, 4] = (delta[3] + 1.0) / 2.0
        if self.noise > 0:  # hand noise on the position target (m)
            out[:, :3] += self.rng.normal(0.0, self.noise, (len(out), 3))
        return out

    def policy_view(self, mw_obs: np.ndarray) -> np.ndarray:
        """What Metaworld's policy is given (its observation, unchanged by default)."""
        return mw_obs

    def milestones(self, state: np.ndarray) -> np.ndarray | None:
        """(N,) 1 once the hand is at the object (within 3 cm), else 0."""
        state = np.atleast_2d(np.asarray(state, float))
        return (np.linalg.norm(state[:, 0:3] - state[:, 4:7], axis=1) < 0.03).astype(float)


class DrawerOpenExpert(MetaworldExpert):
    policy_cls = SawyerDrawerOpenV3Policy


class PegInsertExpert(MetaworldExpert):
    """Metaworld's peg policy with one guard against its measured dead end.

    The policy carries the peg only while the hand is within 2.5 cm above the peg's grasp point;
    when the peg sits 2.5-3.5 cm below the closed hand (it slipped in the grasp: 19 of 200
    episodes, seed 0) it lowers the hand "to the peg" and drags it along the table until the
    episode ends. While the fingers are closed around the peg (finger distance 0.2-0.45, as when
    holding it) and the peg is under the hand, the policy is shown the peg 2.4 cm below the hand,
    so it keeps carrying it; every other state is passed through unchanged.
    """

    policy_cls = SawyerPegInsertionSideV3Policy
    HELD_FINGERS = (0.2, 0.45)
    HELD_GAP = 0.035
    SHOWN_GAP = 0.024

    def policy_view(self, mw_obs: np.ndarray) -> np.ndarray:
        hand, fingers, peg = mw_obs[0:3], mw_obs[3], mw_obs[4:7]
        gap = hand[2] - peg[2]
        held = (
            self.HELD_FINGERS[0] < fingers < self.HELD_FINGERS[1]
            and np.linalg.norm(hand[:2] - peg[:2]) < 0.02
            and self.SHOWN_GAP < gap < self.HELD_GAP
        )
        if not held:
            return mw_obs
        view = mw_obs.copy()
        view[6] = hand[2] - self.SHOWN_GAP
        return view


class ButtonPressExpert(MetaworldExpert):
    policy_cls = SawyerButtonPressV3Policy
