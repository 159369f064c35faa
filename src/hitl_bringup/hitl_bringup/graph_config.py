"""The deploy graph's vocabulary: node specs, argument defaults and types, the config files.

Shared by graph.py (single-robot graphs), fleet_graph.py (fleets) and gating.py (the arbiter's
settings) without importing one another in a circle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

POLICY_KINDS = ("diffusion", "ebm", "ensemble")
DEVICES = ("sim_operator", "keyboard", "spacemouse", "joy", "trakstar", "console")
PATH_ARGS = ("checkpoint", "threshold_file", "bag")  # made absolute so every process agrees
_TEMPLATE = re.compile(r"^\$\{(\w+)\}$")
# nodes the graph cannot run without: one that exits ends the graph (runner and launch files); exit 0
# (the arm driver after its `episodes`) is a clean end, any other code a failure
REQUIRED_NODES = ("sim_arm", "arm_adapter", "observation_bridge", "policy", "uncertainty", "arbiter", "recorder")
# the arguments the record-only graph (record.launch.py, `hitl_run record`) uses
RECORD_ARGUMENTS = ("namespace", "bag", "robot_id", "task", "arm")


class GraphError(ValueError):
    """Bad graph arguments or configuration (one-line message)."""


@dataclass
class NodeSpec:
    package: str
    executable: str
    module: str          # python -m target for the runner ('' = not runnable without a full install)
    name: str
    namespace: str       # '' or '/robot_0'
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fqn(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else f"/{self.name}"


def config_dir() -> Path:
    """hitl_bringup's config folder: the source tree's (also under colcon's symlink install), else
    the installed share folder."""
    here = Path(__file__).resolve().parent.parent / "config"
    if (here / "deploy.yaml").exists():
        return here
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory("hitl_bringup")) / "config"
        if (share / "deploy.yaml").exists():
            return share
    except Exception:  # ament_index missing or package not installed: fall through
        pass
    raise GraphError(f"hitl_bringup config not found (looked in {here} and the ament share folder)")


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GraphError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise GraphError(f"{path}: expected a mapping at the top level")
    return data


def available(kind: str) -> list[str]:
    """Names of the arm or task YAML files ('arms' | 'tasks')."""
    return sorted(p.stem for p in (config_dir() / kind).glob("*.yaml"))


def coerce(name: str, value: Any, default: Any) -> Any:
    """Launch/CLI strings -> the type of the argument's default (bool, int, float, str)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off", ""):
            return False
        raise GraphError(f"argument {name}:={value!r} is not a boolean (true|false)")
    if isinstance(default, int):
        try:
            return int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise GraphError(f"argument {name}:={value!r} is not an integer") from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise GraphError(f"argument {name}:={value!r} is not a number") from None
    return "" if value is None else str(value)


def default_arguments() -> dict[str, Any]:
    return dict(load_yaml(config_dir() / "deploy.yaml").get("arguments", {}))


def argument_descriptions() -> dict[str, str]:
    """One line per argument (deploy.yaml `argument_descriptions`), shown by `ros2 launch --show-args`."""
    return {k: str(v) for k, v in (load_yaml(config_dir() / "deploy.yaml").get("argument_descriptions")
                                   or {}).items()}


def record_arguments() -> dict[str, Any]:
    """The record-only graph's arguments and their defaults."""
    defaults = default_arguments()
    return {k: defaults[k] for k in RECORD_ARGUMENTS}
