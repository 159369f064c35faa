"""ros2 launch hitl_bringup record.launch.py namespace:=robot_0 bag:=runs/bags/session task:=lift arm:=franka

Record-only: the deploy graph's recorder (hitl_bringup.graph.build_record_graph), for a graph started
elsewhere; the same node, parameters and remappings the runner starts with `hitl_run record ...`.
Declares only the recorder's arguments (graph.RECORD_ARGUMENTS) and `recorder.<param>:=value`.
"""

from hitl_bringup.graph import build_record_graph, record_arguments
from hitl_bringup.launch_support import describe


def generate_launch_description():
    return describe(build_record_graph, record_arguments())
