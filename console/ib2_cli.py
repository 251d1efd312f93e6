"""The Int-Ball2 subcommands: ``ib2-bridge``, ``import --rosbag``, ``sim --ib2-udp``.

Registered by ``console.cli`` with a few lines; none of them imports Qt.
Each runs on the command's main thread (the bridge adds its own thread).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from console.archive_commands import finite_seconds
from telemetry.core.dictionary import TelemetryDictionary

if TYPE_CHECKING:
    import argparse

    from telemetry.ib2.bridge import Ib2Bridge

IB2_DICTIONARY = (
    Path(__file__).resolve().parents[1] / "resources" / "ib2" / "dictionary.toml"
)
_STATUS_EVERY_S = 10.0


def add_ib2_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ib2-bridge`` and ``import`` to the ``kibo-console`` subcommands."""
    bridge = sub.add_parser(
        "ib2-bridge",
        help="Int-Ball2's own UDP downlink in, protocol v1 out on ZeroMQ",
    )
    bridge.add_argument(
        "--udp",
        default="0.0.0.0:34567",
        metavar="HOST:PORT",
        help="where robot telemetry arrives (default 0.0.0.0:34567, as JAXA's ground)",
    )
    bridge.add_argument(
        "--dock-udp",
        metavar="HOST:PORT",
        help="where the docking station's record arrives (JAXA's ground: port 49304)",
    )
    bridge.add_argument(
        "--bind", default="tcp://127.0.0.1:5566", help="ZeroMQ endpoint to publish on"
    )
    bridge.add_argument("--source", default="ib2", help="robot source id on the bus")
    bridge.add_argument("--dock-source", default="ib2-dock", help="dock source id")
    bridge.add_argument(
        "--duration", type=finite_seconds, default=None, help="seconds to run"
    )

    imp = sub.add_parser(
        "import", help="import a ROS 1 bag or ROS 2 bag directory as a session archive"
    )
    imp.add_argument(
        "--rosbag",
        type=Path,
        required=True,
        metavar="FILE.bag|BAG_DIR",
        help="ROS 1 bag file, or ROS 2 bag directory (sqlite3 or mcap storage)",
    )
    imp.add_argument("--archive", type=Path, required=True, help="new archive file")
    imp.add_argument(
        "--dictionary",
        type=Path,
        default=IB2_DICTIONARY,
        help="dictionary the archive is made with (default: the Int-Ball2 profile)",
    )
    imp.add_argument("--source", default="ib2", help="source id of the bag's robot")


def add_sim_options(sim: argparse.ArgumentParser) -> None:
    """Add ``--ib2-udp`` / ``--ib2-dock-udp`` to ``kibo-console sim``."""
    sim.add_argument(
        "--ib2-udp",
        metavar="HOST:PORT",
        help="also send robot ib2-a as Int-Ball2's own UDP downlink to HOST:PORT "
        "(for kibo-console ib2-bridge)",
    )
    sim.add_argument(
        "--ib2-dock-udp",
        metavar="HOST:PORT",
        help="with --ib2-udp: also send the docking station's record there",
    )


def _print(text: str) -> None:
    print(f"ib2-bridge: {text}", file=sys.stderr, flush=True)


def run_bridge(args: argparse.Namespace) -> int:
    from telemetry.ib2.bridge import Ib2Bridge, parse_udp

    robot = parse_udp(args.udp)
    dock = parse_udp(args.dock_udp) if args.dock_udp else None
    stop = threading.Event()
    from console.cli import _stop_on_signals

    _stop_on_signals(stop)
    bridge = Ib2Bridge(
        robot,
        args.bind,
        dock=dock,
        robot_source=args.source,
        dock_source=args.dock_source,
        on_status=_print,
    )
    where = f"robot UDP {bridge.robot_address[0]}:{bridge.robot_address[1]}"
    if bridge.dock_address is not None:
        where += f", dock UDP {bridge.dock_address[0]}:{bridge.dock_address[1]}"
    _print(f"{where} -> protocol v1 on {bridge.endpoint}")
    bridge.start()
    started = time.monotonic()
    next_status = started + _STATUS_EVERY_S
    try:
        while not stop.wait(0.2):
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            if now >= next_status:
                next_status = now + _STATUS_EVERY_S
                _print(_summary(bridge))
    finally:
        bridge.stop()
    _print(_summary(bridge))
    return 0


def _summary(bridge: Ib2Bridge) -> str:
    s = bridge.stats
    now = time.time()
    sockets = ", ".join(
        f"{h.name} {h.datagrams} "
        + ("(STALE)" if h.stale else f"({now - h.last_arrival:.0f} s ago)")
        for h in s.sockets.values()
    )
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(s.rejected.items())) or "none"
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(bridge.decoder.dropped.items()))
    missed = sum(p.missed_parts for p in bridge.parts.ports.values())
    if bridge.bound.refused:
        dropped += (
            f"{', ' if dropped else ''}past the channel bound {bridge.bound.refused}"
        )
    return (
        f"received {s.received}, published {s.published}; rejected {s.rejected_total}"
        f" ({rejected}); items dropped: {dropped or 'none'}; split parts missed"
        f" {missed}; sockets: {sockets or 'none yet'}"
    )


def run_import(args: argparse.Namespace) -> int:
    from telemetry.ib2.rosbag_import import import_bag
    from telemetry.live.session import build_derivers

    dictionary = TelemetryDictionary.load(args.dictionary)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        print(
            f"\rimporting [{'#' * filled}{'.' * (width - filled)}] "
            f"{done}/{total} messages",
            end="",
            file=sys.stderr,
            flush=True,
        )

    stats = import_bag(
        args.rosbag,
        args.archive,
        dictionary,
        source=args.source,
        derivers=build_derivers(dictionary),
        progress=progress,
    )
    print(file=sys.stderr)
    if stats.refused_channels:
        print(
            f"  left out {stats.refused_channels} values of channels past the bound "
            "of 1,500 names",
            file=sys.stderr,
        )
    for reason, count in sorted(stats.skipped.items()):
        print(f"  skipped {count}: {reason}", file=sys.stderr)
    print(
        f"imported {stats.messages} messages of {len(stats.topics)} topics as "
        f"{stats.rows} rows in {stats.frames} messages to {args.archive} "
        f"({stats.rejected} rejected) in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def run_ib2_sim(args: argparse.Namespace) -> int:
    """``sim --ib2-udp``: the simulator on the bus and robot ib2-a as Int-Ball2 UDP."""
    from console.cli import _publisher_endpoint, _stop_on_signals
    from telemetry.bus.publisher import publish
    from telemetry.core.dictionary import DEFAULT_DICTIONARY
    from telemetry.ib2.bridge import parse_udp
    from telemetry.sim.ib2_downlink import Ib2DownlinkSender
    from telemetry.sim.publishing import check_simulation, simulated_frames

    if args.curve_secret is not None:
        raise ValueError("--ib2-udp runs without CurveZMQ (the robot's UDP is plain)")
    if args.faults is not None:
        # Faults act on encoded protocol v1 messages: the UDP robot would go silent.
        raise ValueError("--faults cannot be combined with --ib2-udp")
    target = parse_udp(args.ib2_udp)
    dock = parse_udp(args.ib2_dock_udp) if args.ib2_dock_udp else None
    dictionary, plan = check_simulation(
        DEFAULT_DICTIONARY, args.scenario, args.rate_scale, args.faults
    )
    endpoint, connect = _publisher_endpoint(args)
    stop = threading.Event()
    _stop_on_signals(stop)
    sender = Ib2DownlinkSender(dictionary, target, dock)
    try:
        frames = simulated_frames(
            dictionary,
            args.seed,
            args.duration,
            args.rate_scale,
            args.scenario,
            plan,
            args.encoding,
        )
        publish(
            sender.tee(frames),
            endpoint,
            speed=args.rate_scale,
            stop_event=stop,
            wait_for_subscriber=None,
            encoding=args.encoding,
            connect=connect,
        )
    finally:
        sender.close()
    print(f"sent {sender.sent} Int-Ball2 datagrams to {args.ib2_udp}", file=sys.stderr)
    return 0


IB2_COMMANDS = {"ib2-bridge": run_bridge, "import": run_import}
