"""The ``kibo-console`` command: the GUI by default, and scriptable subcommands.

Subcommands that need no window (sim, record, info, export, bench, replay,
dose-report, handover, debrief, bookmark, keys) never import Qt, so they
start fast and run headless.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console import dose_record_cli
from console.archive_commands import (
    check_output,
    check_period,
    finite_non_negative,
    finite_positive,
    finite_seconds,
    real_time_or_faster,
    report_loss,
    run_export,
    run_info,
)
from console.ib2_cli import (
    IB2_COMMANDS,
    add_ib2_commands,
    add_sim_options,
    run_ib2_sim,
)
from console.log_config import configure_logging
from telemetry.core.dictionary import (
    DEFAULT_DICTIONARY,
    DictionaryError,
    TelemetryDictionary,
)

if TYPE_CHECKING:
    from types import FrameType

    from console.publish_report import PublishReport
    from telemetry.bus.curve import PublisherCurve


def parse_time(text: str) -> float:
    """Parse ISO-8601 (UTC assumed without a zone) into epoch seconds."""
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kibo-console",
        description=(
            "Kibo operations console: Int-Ball robots, ECLSS and crew radiation dose."
        ),
    )
    _add_subscriber_options(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the built-in simulator and connect to it",
    )
    parser.add_argument(
        "--scenario",
        default="nominal",
        help="simulator scenario for --demo (nominal, co2-rise, nav-loss, spe-2017-09)",
    )
    parser.add_argument(
        "--archive", type=Path, help="archive file (default: a new file per session)"
    )
    parser.add_argument(
        "--layout",
        default="flight",
        choices=("flight", "radiation", "trainer"),
        help="role layout: flight, radiation, trainer",
    )
    parser.add_argument(
        "--operator", default="", help="operator name written with every action"
    )
    parser.add_argument("--dictionary", type=Path, default=DEFAULT_DICTIONARY)
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="ARCHIVE",
        help="open a recorded session for replay",
    )
    parser.add_argument(
        "--training",
        action="store_true",
        help="training replay: the trainee's acks, shelves and notes go to a "
        "training log (never to the session) for 'kibo-console debrief'",
    )
    parser.add_argument(
        "--training-log",
        type=Path,
        metavar="FILE",
        help="training log of a --training replay (default: a new file in "
        "<data dir>/training/)",
    )
    parser.add_argument(
        "--replay-start",
        metavar="TIME",
        help="open the replay at TIME: +MM:SS from the session start, ISO UTC, "
        "or DDD/HH:MM:SS",
    )
    parser.add_argument(
        "--replay-speed",
        type=float,
        metavar="X",
        help="start playing the replay at X times real time (0.1..200; 0 = as "
        "fast as possible)",
    )
    parser.add_argument(
        "--faults", type=Path, help="fault-injection scenario (TOML) for replay or demo"
    )
    parser.add_argument(
        "--screenshot", type=Path, help="save a screenshot of the window to FILE"
    )
    parser.add_argument(
        "--quit-after", type=finite_seconds, metavar="S", help="quit after S seconds"
    )
    parser.add_argument("--refresh-hz", type=finite_positive, default=20.0)
    parser.add_argument(
        "--roster",
        type=Path,
        metavar="FILE",
        help="crew roster (TOML) for the dose estimator, live or replay (default: the "
        "shipped resources/crew_roster.toml)",
    )
    parser.add_argument(
        "--limits",
        type=Path,
        metavar="FILE",
        help="dose limits (TOML) for the dose estimator, live or replay (default: the "
        "shipped resources/dose_limits.toml)",
    )
    sub = parser.add_subparsers(dest="command")

    sim = sub.add_parser("sim", help="run the telemetry simulator (publisher)")
    _add_publisher_options(sim, "tcp://127.0.0.1:5556")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument(
        "--duration", type=finite_seconds, default=None, help="seconds of wall time"
    )
    sim.add_argument(
        "--rate-scale",
        type=real_time_or_faster,
        default=1.0,
        help="simulated seconds per wall second (scenarios compress with it)",
    )
    sim.add_argument(
        "--scenario",
        default="nominal",
        choices=["nominal", "co2-rise", "nav-loss", "spe-2017-09"],
    )
    sim.add_argument("--faults", type=Path, help="fault-injection scenario (TOML)")
    sim.add_argument("--encoding", default="msgpack", choices=["msgpack", "json"])
    add_sim_options(sim)

    rec = sub.add_parser("record", help="headless recorder: subscribe and archive")
    _add_subscriber_options(rec)
    rec.add_argument("--archive", type=Path, required=True)
    rec.add_argument("--duration", type=finite_seconds, default=None)
    rec.add_argument(
        "--receive-queue-mib",
        type=finite_positive,
        default=None,
        metavar="MIB",
        help="memory for messages received and not yet processed (default 256); "
        "past it messages are dropped, reported and the exit status is 3",
    )
    rec.add_argument(
        "--topic", action="append", default=None, help="topic prefix filter"
    )
    rec.add_argument("--dictionary", type=Path, default=DEFAULT_DICTIONARY)
    rec.add_argument("--roster", type=Path, help="crew roster (TOML)")
    rec.add_argument("--limits", type=Path, help="dose limits (TOML)")

    info = sub.add_parser("info", help="summarise an archive")
    info.add_argument("--archive", type=Path, required=True)
    info.add_argument("--json", action="store_true")

    exp = sub.add_parser("export", help="export one channel from an archive")
    exp.add_argument("--archive", type=Path, required=True)
    exp.add_argument(
        "--channel",
        required=True,
        action="append",
        metavar="SRC.CHANNEL",
        help="channel to export (repeat with --wide for several)",
    )
    exp.add_argument(
        "--wide",
        action="store_true",
        help="CSV with one column per --channel, one row per sample time",
    )
    exp.add_argument("--start", type=parse_time)
    exp.add_argument("--end", type=parse_time)
    exp.add_argument("--format", choices=["csv", "json"], default="csv")
    exp.add_argument("--output", type=Path, help="file to write (default: stdout)")

    dose = sub.add_parser("dose-report", help="crew dose report from an archive")
    dose.add_argument("--archive", type=Path, required=True)
    dose.add_argument("--start", type=parse_time)
    dose.add_argument("--end", type=parse_time)
    dose.add_argument("--crew", action="append")
    dose.add_argument("--format", choices=["json", "csv", "html"], default="json")
    dose.add_argument("--output", type=Path)
    dose.add_argument(
        "--ledger",
        type=Path,
        help="a dose ledger: adds its doses of record beside the estimate and the "
        "calendar- and fiscal-year totals",
    )
    dose.add_argument(
        "--replay",
        action="store_true",
        help="replay every frame even when the archive holds hourly dose bins",
    )
    dose_record_cli.add_parser(sub)

    rep = sub.add_parser("replay", help="republish a recording over ZeroMQ")
    rep.add_argument("--archive", type=Path, required=True)
    _add_publisher_options(rep, "tcp://127.0.0.1:5557")
    rep.add_argument(
        "--speed",
        type=finite_non_negative,
        default=1.0,
        help="0 = as fast as possible",
    )
    rep.add_argument("--start", type=parse_time)
    rep.add_argument("--end", type=parse_time)
    rep.add_argument("--faults", type=Path)
    rep.add_argument("--wait-subscriber", type=finite_non_negative, default=10.0)

    handover = sub.add_parser("handover", help="shift handover report (HTML)")
    handover.add_argument("--archive", type=Path, required=True)
    handover.add_argument("--start", type=parse_time)
    handover.add_argument("--end", type=parse_time)
    handover.add_argument("--output", type=Path)

    debrief = sub.add_parser(
        "debrief", help="training debrief (HTML): expected responses vs actions"
    )
    debrief.add_argument("--training-log", type=Path, required=True, metavar="FILE")
    debrief.add_argument(
        "--expect",
        type=Path,
        metavar="SCENARIO.toml",
        help="the [[expect]] list (default: the run's scenario, else the "
        "replayed session's <name>.expect.toml)",
    )
    debrief.add_argument(
        "--session", type=int, help="training run id in the log (default: latest)"
    )
    debrief.add_argument("--output", type=Path, help="HTML file (default: stdout)")

    bookmark = sub.add_parser(
        "bookmark",
        help="add, list or remove a recorded session's bookmarks (kept in "
        "<session>.bookmarks.sqlite beside it)",
    )
    bookmark.add_argument("--session", type=Path, required=True, metavar="FILE")
    bookmark.add_argument(
        "--time", metavar="TIME", help="+MM:SS from the session start, ISO UTC..."
    )
    bookmark.add_argument("--text", help="the bookmark's note")
    bookmark.add_argument("--author", default="", help="who wrote it")
    bookmark.add_argument(
        "--trainer-only",
        action="store_true",
        help="hide the new bookmark from trainees (a --training replay never "
        "shows it)",
    )
    bookmark.add_argument("--remove", type=int, metavar="ID", help="delete by id")

    keys = sub.add_parser("keys", help="generate a CurveZMQ key pair")
    keys.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for NAME.key and NAME.key_secret",
    )
    keys.add_argument(
        "--name", default="console", help="console, publisher, or another name"
    )
    keys.add_argument(
        "--force", action="store_true", help="replace an existing key pair"
    )

    bench = sub.add_parser("bench", help="benchmarks against this machine's own limits")
    bench.add_argument(
        "which",
        choices=[
            "ingest",
            "gui",
            "replay",
            "query",
            "dose",
            "report",
            "soak",
            "fuzz",
            "flood",
            "all",
        ],
        help="fuzz: --frames hostile and malformed messages (default 100,000, "
        "15-25 s and under 0.8 GB here) through a real SUB socket into a live "
        "session, each checked to be accepted or rejected as predicted and "
        "archived; prints rates, reasons and the session's memory; exit 1 if "
        "a frame went astray",
    )
    bench.add_argument("--seconds", type=finite_seconds, default=None)
    bench.add_argument("--hours", type=finite_positive, default=None)
    bench.add_argument(
        "--frames", type=int, default=None, help="messages for 'bench fuzz'"
    )
    bench.add_argument(
        "--rate",
        type=float,
        default=None,
        help="samples/s for 'bench soak' (default 10,000; 100,000 measures the "
        "longest GUI stall under full ingest load)",
    )
    add_ib2_commands(sub)
    return parser


def _add_subscriber_options(parser: argparse.ArgumentParser) -> None:
    """Where a console or recorder takes telemetry from, and its CurveZMQ keys."""
    parser.add_argument(
        "--connect",
        action="append",
        metavar="ENDPOINT",
        default=[],
        help="ZeroMQ endpoint of a publisher to subscribe to (repeatable)",
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="ENDPOINT",
        default=[],
        help="bind ENDPOINT and take telemetry from publishers that connect to "
        "it (repeatable; with or without --connect)",
    )
    parser.add_argument(
        "--curve-keys",
        type=Path,
        metavar="DIR",
        help="CurveZMQ: DIR holds console.key and console.key_secret, plus "
        "publisher.key (the one publisher trusted by --connect) and the "
        "publisher keys a --listen console admits",
    )
    parser.add_argument(
        "--curve-allow",
        type=Path,
        action="append",
        default=[],
        metavar="FILE_OR_DIR",
        help="publisher public key file or directory of *.key files a --listen "
        "console admits (repeatable; default: the *.key files in --curve-keys "
        "but console.key); others are refused and reported",
    )
    parser.add_argument(
        "--no-dose-ledger",
        action="store_true",
        help="do not read or write the data directory's dose ledger (crew dose "
        "of earlier console sessions): totals start from this session",
    )


def _add_publisher_options(parser: argparse.ArgumentParser, bind: str) -> None:
    """Where the simulator or replay publishes, and its CurveZMQ keys."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--bind", default=None, help=f"endpoint to bind for consoles (default {bind})"
    )
    where.add_argument(
        "--connect",
        metavar="ENDPOINT",
        help="connect to a console that listens there (kibo-console --listen)",
    )
    parser.set_defaults(default_bind=bind)
    parser.add_argument(
        "--curve-secret",
        type=Path,
        metavar="FILE",
        help="CurveZMQ secret key file (NAME.key_secret, mode 0600): a CURVE "
        "server admitting the consoles of --curve-allow, or with "
        "--curve-server-key a client of a listening console",
    )
    parser.add_argument(
        "--curve-allow",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="console public key file or directory of *.key files allowed to "
        "subscribe (repeatable; default: the --curve-secret file's directory)",
    )
    parser.add_argument(
        "--curve-server-key",
        type=Path,
        metavar="CONSOLE.key",
        help="with --connect and --curve-secret: the listening console's public "
        "key; the console's allow-list must hold this publisher's key",
    )


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        handler = _COMMANDS.get(args.command or "", _gui)
        return handler(args)
    except BrokenPipeError:
        # ``export ... | head``: the reader took what it wanted. Quietly, and
        # without Python complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (DictionaryError, OSError, TimeoutError, ValueError) as exc:
        print(f"kibo-console: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        # Damage found past the checks made on opening (a page that does not
        # read): the file is named, no traceback.
        where = next(
            (str(p) for p in vars(args).values() if isinstance(p, Path)), "a file"
        )
        print(f"kibo-console: error: {where}: damaged file ({exc})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _publisher_endpoint(args: argparse.Namespace) -> tuple[str, bool]:
    """Return a publisher's endpoint and whether it connects (sim, replay).

    Raises ``ValueError`` for CurveZMQ options that cannot work together.
    """
    if args.curve_secret is None:
        if args.curve_allow or args.curve_server_key is not None:
            raise ValueError("--curve-allow and --curve-server-key need --curve-secret")
    elif args.connect is not None and args.curve_server_key is None:
        # A listening console is always the CURVE server.
        raise ValueError(
            "--connect with --curve-secret needs --curve-server-key CONSOLE.key "
            "(the listening console's public key)"
        )
    if args.curve_server_key is not None and args.connect is None:
        raise ValueError(
            "--curve-server-key is for --connect to a listening console; a "
            "publisher that binds is the CURVE server (give --curve-allow)"
        )
    if args.connect is not None:
        return str(args.connect), True
    return str(args.bind or args.default_bind), False


def _sim(args: argparse.Namespace) -> int:
    if args.ib2_udp is not None:
        return run_ib2_sim(args)

    stop = threading.Event()
    _stop_on_signals(stop)
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    endpoint, connect = _publisher_endpoint(args)
    report = _report("sim", f"scenario {args.scenario}", connect)
    try:
        _run_sim(args, dictionary, endpoint, connect, stop, report)
    finally:
        report.stop()
    return 0


def _report(command: str, what: str, connect: bool) -> PublishReport:
    from console.publish_report import PublishReport

    return PublishReport(command, what, connect=connect)


def _run_sim(
    args: argparse.Namespace,
    dictionary: TelemetryDictionary,
    endpoint: str,
    connect: bool,
    stop: threading.Event,
    report: PublishReport,
) -> None:
    from telemetry.sim.publishing import run_secure_simulator, run_simulator

    if args.curve_secret is not None:
        # CURVE server with a ZAP allow-list (CURVE alone would admit any
        # client that knows our public key), or client of a listening console.
        run_secure_simulator(
            dictionary,
            bind=endpoint,
            connect=connect,
            curve_secret=args.curve_secret,
            allowed=args.curve_allow,
            server_key=args.curve_server_key,
            seed=args.seed,
            duration=args.duration,
            rate_scale=args.rate_scale,
            scenario=args.scenario,
            stop_event=stop,
            encoding=args.encoding,
            faults=args.faults,
            on_bound=report.bound,
        )
        return
    run_simulator(
        dictionary,
        bind=endpoint,
        connect=connect,
        seed=args.seed,
        duration=args.duration,
        rate_scale=args.rate_scale,
        scenario=args.scenario,
        stop_event=stop,
        encoding=args.encoding,
        faults=args.faults,
        on_bound=report.bound,
    )


def _record(args: argparse.Namespace) -> int:
    from console.config import console_curve, default_dose_ledger
    from telemetry.bus.subscriber import listen_endpoint
    from telemetry.live.session import LiveSession, SessionConfig, build_derivers

    if not args.connect and not args.listen:
        raise ValueError("give --connect ENDPOINT or --listen ENDPOINT")
    # Everything is loaded and checked before the archive file is created: a
    # broken file stops the recorder (exit 2, naming file, line and entry)
    # instead of letting it record half-configured.
    dictionary = TelemetryDictionary.load(args.dictionary)
    derivers = build_derivers(dictionary, args.roster, args.limits)
    config = SessionConfig(
        endpoints=[*args.connect, *map(listen_endpoint, args.listen)],
        archive_path=args.archive,
        dose_ledger=None if args.no_dose_ledger else default_dose_ledger(),
        topics=args.topic or ("",),
        curve=console_curve(
            args.curve_keys,
            connect=bool(args.connect),
            listen=bool(args.listen),
            allow=args.curve_allow,
        ),
        receive_queue_bytes=(
            None
            if args.receive_queue_mib is None
            else max(1, int(args.receive_queue_mib * 2**20))
        ),
    )
    session = LiveSession(dictionary, config, derivers)
    stop = threading.Event()
    _stop_on_signals(stop)
    session.start()
    started = time.monotonic()
    try:
        while not stop.wait(0.2):
            if (
                args.duration is not None
                and time.monotonic() - started >= args.duration
            ):
                break
            if session.archive is not None and session.archive.file_gone:
                # Recording into a removed file keeps nothing: end now, loudly
                # (exit 3), so a supervisor restarts the recorder on a new file.
                break
    finally:
        session.stop()
    stopped = session.archive.stopped_cleanly if session.archive else True
    stats = session.store.sources
    messages = sum(s.messages for s in stats.values())
    samples = sum(s.samples for s in stats.values())
    print(
        f"recorded {messages} messages, {samples} samples, "
        f"{session.store.rejected_total} rejected to {args.archive}",
        file=sys.stderr,
    )
    if session.subscriber.refused:
        print(
            f"refused {session.subscriber.refused} publisher handshake(s): "
            "see the archive's 'publisher refused' events",
            file=sys.stderr,
        )
    ledger = session.ledger_loss()
    return report_loss(
        session.archive,
        stopped,
        session.subscriber.loss(),
        [ledger.what()] if ledger else [],
    )


def _dose_report(args: argparse.Namespace) -> int:
    check_period(args.start, args.end)
    check_output(args.archive, args.output)
    from telemetry.reports.dose_report import write_dose_report

    write_dose_report(
        args.archive,
        args.start,
        args.end,
        args.crew,
        args.format,
        args.output,
        ledger=args.ledger,
        replay=args.replay,
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    from telemetry.bus.curve import load_publisher_curve

    check_period(args.start, args.end)
    endpoint, connect = _publisher_endpoint(args)
    curve = (
        load_publisher_curve(args.curve_secret, args.curve_allow, args.curve_server_key)
        if args.curve_secret is not None
        else None
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    report = _report("replay", f"recording {args.archive}", connect)
    try:
        sent = _republish(args, endpoint, connect, curve, stop, report)
    finally:
        report.stop()
    print(f"replayed {sent} messages from {args.archive}", file=sys.stderr)
    return 0


def _republish(
    args: argparse.Namespace,
    endpoint: str,
    connect: bool,
    curve: PublisherCurve | None,
    stop: threading.Event,
    report: PublishReport,
) -> int:
    from telemetry.replay.republish import republish

    return republish(
        args.archive,
        endpoint,
        connect=connect,
        curve=curve,
        speed=args.speed,
        start=args.start,
        end=args.end,
        faults=args.faults,
        stop_event=stop,
        wait_subscriber=args.wait_subscriber,
        on_bound=report.bound,
    )


def _handover(args: argparse.Namespace) -> int:
    check_period(args.start, args.end)
    check_output(args.archive, args.output)
    from telemetry.reports.handover import write_handover_report

    write_handover_report(args.archive, args.start, args.end, args.output)
    return 0


def _debrief(args: argparse.Namespace) -> int:
    from telemetry.replay.training import default_expectations, read_training_log
    from telemetry.reports.debrief import write_debrief_report

    expect: Path | None = args.expect
    if expect is None:
        record = read_training_log(args.training_log, args.session)
        scenario = Path(record.scenario)
        candidates = [scenario, default_expectations(record.replayed)]
        expect = next(
            (p for p in candidates if p.suffix == ".toml" and p.is_file()), None
        )
        if expect is None:
            raise ValueError(
                f"no expectations for {record.replayed}: give --expect SCENARIO.toml"
            )
    write_debrief_report(args.training_log, expect, args.output, session=args.session)
    if args.output is not None:
        print(f"wrote {args.output} (expectations: {expect})", file=sys.stderr)
    return 0


def _bookmark(args: argparse.Namespace) -> int:
    from telemetry.archive.reader import ArchiveReader
    from telemetry.replay.bookmarks import BookmarkFile
    from telemetry.replay.session_reader import parse_session_time

    with ArchiveReader(args.session) as reader:
        info = reader.info()
    start = float(info["start"] or 0.0)
    end = float(info["end"] or start)
    marks = BookmarkFile(args.session)
    if args.remove is not None:
        if not marks.remove(args.remove):
            raise ValueError(f"{marks.path}: no bookmark {args.remove}")
        print(f"removed bookmark {args.remove} from {marks.path}", file=sys.stderr)
        return 0
    if (args.time is None) != (args.text is None):
        raise ValueError("give both --time and --text to add a bookmark")
    if args.time is not None:
        t = parse_session_time(args.time, start)
        if not start <= t <= end:
            raise ValueError(
                f"{args.time} is outside the session " f"({_iso(start)} to {_iso(end)})"
            )
        audience = "trainer" if args.trainer_only else "all"
        added = marks.add(t, args.author, args.text, audience=audience)
        print(f"added bookmark {added.id} to {marks.path}", file=sys.stderr)
        return 0
    for bm in marks.read():
        offset = bm.time - start
        print(
            f"{bm.id:4d}  {_iso(bm.time)}  T+{int(offset // 60)}:"
            f"{offset % 60:04.1f}  {bm.author or '-'}: {bm.text}"
            + ("  [trainer only]" if not bm.trainee_visible else "")
        )
    return 0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _keys(args: argparse.Namespace) -> int:
    from console.config import generate_keys

    public, _secret = generate_keys(args.out, args.name, force=args.force)
    # The secret stays in its 0600 file: never on a terminal or in a log.
    print(
        f"wrote {args.out / (args.name + '.key')} (public: give it to the other "
        f"side)\nwrote {args.out / (args.name + '.key_secret')} (secret: owner "
        f"only, never copy it)\npublic key: {public}"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from console.bench import run_bench

    return run_bench(
        args.which,
        seconds=args.seconds,
        hours=args.hours,
        frames=args.frames,
        rate=args.rate,
    )


def _gui(args: argparse.Namespace) -> int:
    from console.app import run_gui

    return run_gui(args)


_COMMANDS = {
    "sim": _sim,
    "record": _record,
    "info": run_info,
    "export": run_export,
    "dose-report": _dose_report,
    "dose-record": dose_record_cli.run,
    "replay": _replay,
    "handover": _handover,
    "debrief": _debrief,
    "bookmark": _bookmark,
    "keys": _keys,
    "bench": _bench,
    **IB2_COMMANDS,
}
