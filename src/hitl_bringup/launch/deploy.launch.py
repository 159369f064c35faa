"""ros2 launch hitl_bringup deploy.launch.py arm:=franka sim:=true task:=lift policy:=diffusion \
    checkpoint:=<file> device:=cpu threshold:=0.4 record:=true namespace:=robot_0 [arbiter.release_ticks:=5]

The nodes, parameters and remappings come from hitl_bringup.graph.build_graph (config/deploy.yaml +
config/arms/<arm>.yaml + config/tasks/<task>.yaml), exactly as the runner (hitl_run) starts them;
argument handling and required nodes: hitl_bringup.launch_support. `--show-args` describes each one.
"""

from hitl_bringup.graph import build_graph, default_arguments
from hitl_bringup.launch_support import describe


def generate_launch_description():
    return describe(build_graph, default_arguments())
