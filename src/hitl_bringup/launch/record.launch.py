"""ros2 launch hitl_bringup record.launch.py namespace:=robot_0 bag:=runs/bags/session task:=lift arm:=franka

Record-only: the deploy graph's recorder (hitl_bringup.graph.build_record_graph), for a graph started
elsewhere; the same node, parameters and remappings the runner starts with `hitl_run record ...`.
"""

from hitl_bringup.graph import build_record_graph, default_arguments
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BUILD = build_record_graph


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _nodes(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name in default_arguments()}
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name,
             namespace=spec.namespace or None, parameters=[spec.parameters],
             remappings=list(spec.remappings), output="screen")
        for spec in BUILD(**values)
    ]


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=_text(default))
                for name, default in default_arguments().items()]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
