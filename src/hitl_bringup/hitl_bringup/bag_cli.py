"""hitl_bag: inspect, repair and convert rosbag2 MCAP bags recorded by recorder_node.

  hitl_bag info <bag>                       topics, types, message counts, duration, file health
  hitl_bag repair <bag> [--no-keep]         make a killed bag whole (like `ros2 bag reindex`)
  hitl_bag to-dataset <bag>... --out f.npz  episodes for training (hitl_core.bag_dataset)
  hitl_bag export-lerobot <bag>... --out DIR a LeRobotDataset v3.0 with intervention labels
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hitl_core.data import SOURCE_HUMAN, DatasetError

from hitl_bringup.bag.metadata import BagError


def cmd_info(args: argparse.Namespace) -> int:
    from hitl_core.bag_reader import McapScan, bag_files

    from hitl_bringup.bag.repair import file_is_whole

    counts: dict[str, int] = {}
    types: dict[str, str] = {}
    t0, t1 = None, None
    broken = 0
    files = bag_files(args.bag)
    print(f"bag: {args.bag}")
    for f in files:
        scan = McapScan(f)
        n = 0
        for ch, _schema, msg in scan.messages():
            counts[ch.topic] = counts.get(ch.topic, 0) + 1
            t0 = msg.log_time if t0 is None else min(t0, msg.log_time)
            t1 = msg.log_time if t1 is None else max(t1, msg.log_time)
            n += 1
        for ch in scan.channels.values():
            counts.setdefault(ch.topic, 0)
            schema = scan.schemas.get(ch.schema_id)
            types[ch.topic] = schema.name if schema else "?"
        whole = file_is_whole(f)
        broken += not whole
        state = "ok" if whole else f"NEEDS REPAIR ({scan.error})"
        print(f"  file {f.name}: {n} messages, {f.stat().st_size} bytes, {state}")
    duration = (t1 - t0) / 1e9 if t0 is not None else 0.0
    print(f"messages: {sum(counts.values())}   duration: {duration:.3f} s   topics: {len(counts)}")
    width = max((len(t) for t in counts), default=5)
    for topic in sorted(counts):
        print(f"  {topic:<{width}}  {counts[topic]:>8}  {types.get(topic, '?')}")
    if broken:
        print(f"{broken} file(s) have no valid footer: run `hitl_bag repair {args.bag}`")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from hitl_bringup.bag.repair import repair_bag

    report = repair_bag(args.bag, keep_broken=not args.no_keep)
    for f in report.files:
        if f.was_whole:
            print(f"{f.path.name}: whole, {f.message_count} messages (unchanged)")
        else:
            kept = f", original kept as {f.broken_copy.name}" if f.broken_copy else ""
            print(f"{f.path.name}: rewritten, {f.message_count} messages recovered "
                  f"(old file stopped: {f.error}){kept}")
    for topic, n in sorted(report.per_topic().items()):
        print(f"  {topic}: {n}")
    print(f"metadata rebuilt: {report.metadata}")
    return 0


def cmd_to_dataset(args: argparse.Namespace) -> int:
    from hitl_core.bag_dataset import bags_to_dataset

    ds = bags_to_dataset(args.bags, robot_namespace=args.namespace)
    path = ds.save(args.out)
    human = int((ds.source == SOURCE_HUMAN).sum())
    print(f"{path}: {ds.n_episodes} episodes, {ds.n_steps} steps ({human} human), obs_dim {ds.obs_dim}, "
          f"act_dim {ds.act_dim} {ds.meta.get('action_names')}, "
          f"success {int(ds.success.sum())}/{ds.n_episodes}")
    return 0


def cmd_export_lerobot(args: argparse.Namespace) -> int:
    from hitl_core.bag_dataset import bags_to_labelled_dataset
    from hitl_policy.lerobot_format import write_lerobot
    from hitl_policy.lerobot_video import bag_cameras

    ds, labels = bags_to_labelled_dataset(args.bags, robot_namespace=args.namespace)
    cameras = {} if args.no_video else bag_cameras(labels)
    root = write_lerobot(ds, args.out, labels=labels, fps=args.fps, robot_type=args.robot_type,
                         overwrite=args.overwrite, cameras=cameras)
    human = int((ds.source == SOURCE_HUMAN).sum())
    print(f"{root}: LeRobotDataset v3.0, {ds.n_episodes} episodes, {ds.n_steps} frames ({human} intervention), "
          f"task {ds.meta.get('task')!r}, success {int(ds.success.sum())}/{ds.n_episodes}, "
          f"videos {sorted(cameras) or 'none'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hitl_bag", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="topics, counts, duration and file health of a bag")
    p.add_argument("bag", type=Path)
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("repair", help="rewrite every file without a valid footer, rebuild metadata.yaml")
    p.add_argument("bag", type=Path)
    p.add_argument("--no-keep", action="store_true", help="do not keep the originals as <file>.mcap.broken")
    p.set_defaults(func=cmd_repair)
    p = sub.add_parser("to-dataset", help="bags -> an EpisodeDataset .npz")
    p.add_argument("bags", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--namespace", default=None, help="robot namespace, e.g. /robot_0 (default: every robot)")
    p.set_defaults(func=cmd_to_dataset)
    p = sub.add_parser("export-lerobot", help="bags -> a LeRobotDataset v3.0 directory (docs/recording.md)")
    p.add_argument("bags", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True, help="dataset directory (must be new or empty)")
    p.add_argument("--namespace", default=None, help="robot namespace, e.g. /robot_0 (default: every robot)")
    p.add_argument("--fps", type=int, default=None, help="frame rate (default: the bag's control rate)")
    p.add_argument("--robot-type", default=None, help="info.json robot_type (e.g. franka)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--no-video", action="store_true", help="leave camera images out")
    p.set_defaults(func=cmd_export_lerobot)
    return parser


def main(args: list[str] | None = None) -> int:
    ns = build_parser().parse_args(args)
    try:
        return int(ns.func(ns))
    except (BagError, DatasetError, OSError) as exc:
        print(f"hitl_bag {ns.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
