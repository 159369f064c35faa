"""Workspace-level checks: packages import, every declared entry point answers --help, ruff is clean."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PYTHON_PACKAGES = ("hitl_core", "hitl_policy", "hitl_sim", "hitl_teleop", "hitl_bringup")


def console_scripts(package: str) -> list[tuple[str, str]]:
    """(name, 'module:function') pairs declared in the package's setup.py (run with setup() captured)."""
    import runpy
    from unittest import mock

    import setuptools

    captured: dict = {}
    cwd = os.getcwd()
    os.chdir(ROOT / "src" / package)  # setup.py reads its package.xml
    try:
        with mock.patch.object(setuptools, "setup", lambda **kw: captured.update(kw)):
            runpy.run_path("setup.py", run_name="__main__")
    finally:
        os.chdir(cwd)
    entries = captured.get("entry_points", {}).get("console_scripts", [])
    return [tuple(part.strip() for part in e.split("=")) for e in entries]


ENTRY_POINTS = [(pkg, name, target) for pkg in PYTHON_PACKAGES for name, target in console_scripts(pkg)]


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_package_imports_without_ros(package):
    module = importlib.import_module(package)
    assert module.__doc__


def test_library_modules_never_import_rclpy():
    offenders = []
    for package in PYTHON_PACKAGES:
        for path in (ROOT / "src" / package / package).rglob("*.py"):
            folders = set(path.relative_to(ROOT / "src" / package).parts[:-1])
            if folders & {"nodes", "ros"} or path.name.endswith(("_node.py", "launch.py")):
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n == "rclpy" or n.startswith("rclpy.") for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"library modules importing rclpy (move ROS code into nodes/, or hitl_core/ros/): {offenders}"


def _run_help(entry: tuple[str, str, str]) -> tuple[str, int, str]:
    package, name, target = entry
    installed = ROOT / "install" / package / "lib" / package / name
    if installed.exists():  # the script colcon installed: what `ros2 run` would start
        cmd = [str(installed), "--help"]
    else:
        module, func = target.split(":")
        cmd = [sys.executable, "-c", f"import sys; sys.argv=['{name}','--help']; from {module} import {func}; {func}()"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return name, proc.returncode, proc.stdout + proc.stderr


def test_every_entry_point_answers_help():
    assert len(ENTRY_POINTS) >= 15
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run_help, ENTRY_POINTS))
    failures = [f"{name} (exit {rc}): {out.strip().splitlines()[-1:] }" for name, rc, out in results
                if rc != 0 or "usage" not in out.lower()]
    assert not failures, "entry points failing --help:\n" + "\n".join(failures)


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    proc = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.skipif(not (ROOT / "install" / "hitl_bringup").exists(), reason="workspace not built (make setup)")
def test_env_sh_puts_every_console_script_on_path():
    """The README's 'in a shell after source scripts/env.sh: hitl_run, hitl_train, ...' holds (from a bare
    PATH; sourcing twice adds nothing)."""
    names = [name for _pkg, name, _target in ENTRY_POINTS]
    env_sh = ROOT / "scripts" / "env.sh"
    script = f"source {env_sh} && source {env_sh} && " + " && ".join(f"command -v {n}" for n in names)
    script += ' && echo "$PATH"'
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd="/", env=bare)
    assert proc.returncode == 0, f"not on PATH after env.sh: {proc.stdout}{proc.stderr}"
    *found, path = proc.stdout.splitlines()
    assert [Path(p).name for p in found] == names
    assert path.split(":").count(str(ROOT / "install" / "hitl_bringup" / "lib" / "hitl_bringup")) == 1
