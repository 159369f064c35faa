"""ament_python package hitl_bringup (built by colcon; tests import it straight from src/)."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "hitl_bringup"
data_dirs = ["launch", "config", "rviz", ]

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
    "recorder_node": "hitl_bringup.recorder_node",
}

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["**/*.yaml", "**/*.msg", "**/*.urdf"]},
    data_files=data_files,
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hitl team",
    maintainer_email="hitl@example.com",
    description=Path("package.xml").read_text().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{name} = hitl_core.ros.boot:console" for name in NODES] + [
            "hitl_bag = hitl_bringup.bag_cli:main",
            "hitl_run = hitl_bringup.runner:main",
            "hitl_demo = hitl_bringup.demo:main",
            "hitl_rounds = hitl_bringup.rounds:main",
            "hitl_eval = hitl_bringup.eval:main",
        ],
        "hitl_nodes": [f"{name} = {module}" for name, module in NODES.items()],
    },
)
