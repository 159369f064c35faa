"""ros2 launch hitl_bringup deploy.launch.py arm:=franka sim:=true task:=lift policy:=diffusion \
    checkpoint:=<file> device:=cpu threshold:=0.4 record:=true namespace:=robot_0

The nodes, parameters and remappings come from hitl_bringup.graph.build_graph (config/deploy.yaml +
config/arms/<arm>.yaml + config/tasks/<task>.yaml), exactly as the runner (hitl_run) starts them.
"""

from hitl_bringup.graph import build_graph, default_arguments
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BUILD = build_graph


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
