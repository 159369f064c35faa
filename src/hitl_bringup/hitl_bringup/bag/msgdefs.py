"""Complete message definitions ("ros2msg" schemas) the way rosbag2 writes them into MCAP.

The top-level type's .msg text comes first; every dependency (depth first, each once, in sorted
order per message) follows after a line of 80 '=' and a line ``MSG: pkg/Type``. The .msg files are
looked up under ``<prefix>/share/<pkg>/msg/`` for every prefix on AMENT_PREFIX_PATH, then the
Python prefix (the venv holds the standard message packages), then any colcon ``install/``
directory above this file (so tests run from src/ find hitl_msgs without sourcing the overlay).
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

DELIMITER = "=" * 80
PRIMITIVE_TYPES = frozenset({
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "string", "wstring",
})
# Same pattern as rosbag2's LocalMessageDefinitionSource: the type token at the start of a line.
_FIELD_TYPE = re.compile(r"(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+")


class MessageDefinitionError(LookupError):
    """A message type's .msg file cannot be found or its name is not understood."""


def split_type(type_name: str) -> tuple[str, str]:
    """'pkg/msg/Type' or 'pkg/Type' -> ('pkg', 'Type')."""
    parts = type_name.strip().split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise MessageDefinitionError(f"message type {type_name!r} not understood (expected pkg/msg/Type)")


def canonical_type(type_name: str) -> str:
    """'pkg/Type' or 'pkg/msg/Type' -> 'pkg/msg/Type' (the form rosbag2 stores)."""
    pkg, name = split_type(type_name)
    return f"{pkg}/msg/{name}"


def default_search_prefixes() -> list[Path]:
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(Path(sys.prefix))
    for parent in Path(__file__).resolve().parents:
        install = parent / "install"
        if install.is_dir():
            prefixes.extend(sorted(p for p in install.iterdir() if (p / "share").is_dir()))
            break
    seen: set[Path] = set()
    return [p for p in prefixes if not (p in seen or seen.add(p))]


def find_msg_file(type_name: str, prefixes: list[Path] | None = None) -> Path:
    pkg, name = split_type(type_name)
    prefixes = default_search_prefixes() if prefixes is None else prefixes
    for prefix in prefixes:
        path = Path(prefix) / "share" / pkg / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise MessageDefinitionError(
        f"no definition for {pkg}/msg/{name}: {name}.msg not found under share/{pkg}/msg of "
        f"{len(prefixes)} prefixes (is the workspace sourced? AMENT_PREFIX_PATH)")


def dependencies(text: str, package: str) -> list[str]:
    """Non-primitive field types of a .msg text as 'pkg/Type', sorted (as rosbag2's std::set)."""
    deps: set[str] = set()
    for match in _FIELD_TYPE.finditer(text):
        token = match.group(1)
        if token in PRIMITIVE_TYPES:
            continue
        deps.add(token if "/" in token else f"{package}/{token}")
    return sorted(deps)


@lru_cache(maxsize=256)
def _full_text(type_name: str, prefixes: tuple[Path, ...] | None) -> str:
    search = None if prefixes is None else list(prefixes)
    seen: set[str] = set()

    def append(tname: str, depth: int) -> str:
        if depth <= 0:
            raise MessageDefinitionError(f"recursion too deep resolving {type_name}")
        pkg, _ = split_type(tname)
        text = find_msg_file(tname, search).read_text()
        out = text
        for dep in dependencies(text, pkg):
            if dep in seen:
                continue
            seen.add(dep)
            out += f"\n{DELIMITER}\nMSG: {dep}\n" + append(dep, depth - 1)
        return out

    return append(type_name, 50)


def full_definition(type_name: str, prefixes: list[Path] | None = None) -> str:
    """The complete "ros2msg" definition text of a message type (rosbag2's format)."""
    canonical_type(type_name)  # validates the name
    return _full_text(type_name, None if prefixes is None else tuple(Path(p) for p in prefixes))


def message_class(type_name: str) -> type:
    """Import the generated Python class of 'pkg/msg/Type' (needs the sourced workspace)."""
    import importlib

    pkg, name = split_type(type_name)
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise MessageDefinitionError(f"cannot import {pkg}.msg.{name}: {exc}") from exc
