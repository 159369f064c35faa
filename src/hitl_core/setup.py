"""ament_python package hitl_core (built by colcon; tests import it straight from src/)."""

from pathlib import Path

from setuptools import find_packages, setup

package_name = "hitl_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["ros/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hitl team",
    maintainer_email="hitl@example.com",
    description=Path("package.xml").read_text().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
