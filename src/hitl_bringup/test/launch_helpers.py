"""Shared by the tests that start whole graphs (hitl_run, ros2 launch): a tiny checkpoint per arm,
where `ros2 launch` comes from, and whether a bag was closed whole."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
OVERLAY_ENV = ROOT / "build" / "ros2-launch" / "env.sh"  # .ci/run builds it from ../shared/ros2-launch


# the simulator each arm's launch test runs on: MuJoCo lift for every arm
SIM_BACKEND = {"franka": "mujoco", "widowx": "mujoco", "yumi": "mujoco"}


def tiny_checkpoint(arm: str, folder: Path) -> str:
    """A diffusion policy for lift on ``arm`` trained for a few steps (the graph only has to run)."""
    import torch
    from hitl_policy.registry import make_policy

    from hitl_sim import collect_demos

    torch.set_num_threads(1)
    ds = collect_demos("lift", arm=arm, n_episodes=4, variant="train", seed=3, progress=False,
                       backend=SIM_BACKEND[arm])
    policy = make_policy("diffusion", ds.obs_dim, ds.act_dim, hidden=[32, 32])
    policy.fit(ds, steps=20, batch_size=64, progress=False)
    return str(policy.save(folder / f"{arm}.pt"))


def ros2_launch_prefix() -> str | None:
    """A bash prefix that makes `ros2 launch` available: '' for a system install, `source <overlay>`
    for the overlay, None when there is neither."""
    if shutil.which("ros2"):
        probe = subprocess.run(["ros2", "launch", "--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ""
    if OVERLAY_ENV.exists():
        return f"source {OVERLAY_ENV} && "
    return None


def bag_is_whole(bag: Path) -> list[str]:
    """Why the bag is not a cleanly closed one ([] = whole): metadata.yaml and every file's footer."""
    from hitl_core.bag_reader import McapScan

    problems = []
    meta = bag / "metadata.yaml"
    if not meta.exists():
        return [f"{bag}: no metadata.yaml"]
    info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
    if int(info.get("message_count", 0)) <= 0:
        problems.append("metadata.yaml counts no messages")
    for rel in info["relative_file_paths"]:
        scan = McapScan(bag / Path(rel).name)
        for _ in scan.messages():
            pass
        if not scan.complete:
            problems.append(f"{rel}: {scan.error}")
    return problems


def launch_env(domain: int) -> dict[str, str]:
    return dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
