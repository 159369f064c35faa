"""markers_node: RViz markers from the graph's topics (for a monitor running elsewhere, or a replay).

The uncertainty node draws the same markers itself (``publish_markers:=true``, the deploy graph's
default); this node is the same drawing code (:class:`hitl_policy.markers.MarkerDrawer`) fed by the topics
``uncertainty`` + ``observation`` + ``control_state``, publishing ``uncertainty_markers``.
"""

from __future__ import annotations

import sys

import numpy as np
from hitl_core.ros.node_main import RosImports, run_node

from hitl_policy.markers import MarkerDrawer

Node = object  # the base class while ROS is missing (--help and importing this module need no ROS)
ROS = RosImports()
with ROS:  # running the node needs ROS: run_node raises their ImportError
    from rclpy.node import Node
    from visualization_msgs.msg import MarkerArray

    from hitl_msgs.msg import ControlState, Observation, Uncertainty

USAGE = """usage: markers_node [--help] [--ros-args -p name:=value ...]

Draws the end-effector path coloured by uncertainty, the sampled denoising vectors, the mode means
and a label (score, threshold, control source) as a MarkerArray on `uncertainty_markers`.

parameters:
  frame_id     (string, '')   frame of the markers (default: the observation's frame)
  path_length  (int, 1000)    points kept on the path (the current episode only)
topics: sub observation, uncertainty, control_state; pub uncertainty_markers
"""


class MarkersNode(Node):
    """Draws uncertainty_markers from the observation, uncertainty and control_state topics."""

    def __init__(self) -> None:
        super().__init__("markers")
        self.frame_id = self.declare_parameter("frame_id", "").value
        self.drawer = MarkerDrawer(int(self.declare_parameter("path_length", 1000).value))
        self.obs: Observation | None = None
        self.pub = self.create_publisher(MarkerArray, "uncertainty_markers", 10)
        self.create_subscription(Observation, "observation", self.on_obs, 10)
        self.create_subscription(ControlState, "control_state", self.drawer.on_control_state, 10)
        self.create_subscription(Uncertainty, "uncertainty", self.on_unc, 10)

    def on_obs(self, msg: Observation) -> None:
        self.obs = msg

    def on_unc(self, msg: Uncertainty) -> None:
        if self.obs is None or not self.obs.ee_poses:
            return
        p = self.obs.ee_poses[0].position
        self.drawer.add_pose(int(self.obs.episode), np.array([p.x, p.y, p.z]), float(msg.score))
        frame = self.frame_id or msg.header.frame_id or self.obs.header.frame_id
        self.pub.publish(self.drawer.markers(msg, frame, msg.header.stamp))


def main(args: list[str] | None = None) -> int:
    return run_node(MarkersNode, args, USAGE, "markers_node", ROS, errors=())


if __name__ == "__main__":
    sys.exit(main())
