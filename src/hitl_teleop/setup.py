"""ament_python package hitl_teleop (built by colcon; tests import it straight from src/)."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "hitl_teleop"
data_dirs = []

data_files = [
    ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
    ("share/" + package_name, ["package.xml"]),
]
for folder in data_dirs:
    for path in sorted(glob(f"{folder}/**/*", recursive=True)):
        if not path.endswith("/") and "." in path.rsplit("/", 1)[-1]:
            data_files.append((f"share/{package_name}/" + path.rsplit("/", 1)[0], [path]))

# node executable -> node module; the executables start through hitl_core.ros.boot (stop signals
# armed before the node module's imports), which finds the module under the `hitl_nodes` group
NODES = {
    "arbiter_node": "hitl_teleop.nodes.arbiter_node",
    "sim_operator_node": "hitl_teleop.nodes.sim_operator_node",
    "keyboard_node": "hitl_teleop.nodes.keyboard_node",
    "spacemouse_node": "hitl_teleop.nodes.spacemouse_node",
    "joy_teleop_node": "hitl_teleop.nodes.joy_teleop_node",
    "trakstar_node": "hitl_teleop.nodes.trakstar_node",
    "fleet_allocator_node": "hitl_teleop.nodes.fleet_allocator_node",
    "console_node": "hitl_teleop.nodes.console_node",
    "arm_adapter_node": "hitl_teleop.nodes.arm_adapter_node",
    "observation_bridge_node": "hitl_teleop.nodes.observation_bridge_node",
    "teleop_router_node": "hitl_teleop.nodes.teleop_router_node",
}

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["**/*.yaml", "**/*.msg", "**/*.urdf", "console/static/*.html"]},
    data_files=data_files,
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hitl team",
    maintainer_email="hitl@example.com",
    description=Path("package.xml").read_text().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{name} = hitl_core.ros.boot:console" for name in NODES] + [
        ],
        "hitl_nodes": [f"{name} = {module}" for name, module in NODES.items()],
    },
)
