"""The ``kibo-console sim`` body: the simulator published on the bus, plain or CURVE.

Runs on the caller's thread (the command's main thread, or a test's thread).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Literal

from telemetry.bus.curve import load_publisher_curve, publish_with_curve
from telemetry.bus.keyfile import read_secret_key
from telemetry.bus.publisher import (
    FrameLike,
    PublishStats,
    RawMessage,
    publish,
)
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.faults.injection import FaultPlan, load_injector
from telemetry.sim.simulator import SCENARIOS, Simulator

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path


def simulated_frames(
    dictionary: TelemetryDictionary,
    seed: int,
    duration: float | None,
    rate_scale: float,
    scenario: str,
    faults: FaultPlan | None = None,
    encoding: Literal["json", "msgpack"] = "msgpack",
) -> Iterator[FrameLike | RawMessage]:
    """Yield a fresh simulator's frames for ``duration`` wall seconds (None: forever).

    The simulator is built on the first ``next()``, so its clock starts when
    publishing does (after any wait for a subscriber). It covers
    ``duration * rate_scale`` simulated seconds, rounded up to whole batches.
    With ``faults``, messages go through a ``FaultInjector`` whose offsets
    count simulated seconds from the simulator's start.
    """
    sim = Simulator(dictionary, seed, scenario, rate_scale, start_time=time.time())
    end = math.inf if duration is None else sim.start_time + duration * rate_scale
    injector = load_injector(faults, sim.start_time)
    for frame in sim.frames_until(end):
        if injector is None:
            yield frame
            continue
        parts = injector.apply(frame.encode(encoding))
        if parts is not None:
            yield RawMessage(float(frame.times[-1]), parts)


def check_simulation(
    dictionary: TelemetryDictionary | Path | str,
    scenario: str,
    rate_scale: float,
    faults: str | Path | FaultPlan | None,
) -> tuple[TelemetryDictionary, FaultPlan | None]:
    """Load and check a simulation's inputs, before any socket is bound.

    Raises ``ValueError`` for an unknown scenario or a bad rate_scale, and
    ``FaultPlanError`` for a broken fault scenario.
    """
    if not isinstance(dictionary, TelemetryDictionary):
        dictionary = TelemetryDictionary.load(dictionary)
    # Fail here, not on the first frame after the socket is bound.
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {SCENARIOS}")
    if not (rate_scale > 0 and math.isfinite(rate_scale)):
        raise ValueError(f"rate_scale must be a positive number, got {rate_scale}")
    plan = faults
    if plan is not None and not isinstance(plan, FaultPlan):
        plan = FaultPlan.load(plan, dictionary)
    return dictionary, plan


def run_simulator(
    dictionary: TelemetryDictionary | Path | str = DEFAULT_DICTIONARY,
    *,
    bind: str,
    seed: int = 1,
    duration: float | None = None,
    rate_scale: float = 1.0,
    scenario: str = "nominal",
    stop_event: threading.Event | None = None,
    encoding: Literal["json", "msgpack"] = "msgpack",
    faults: str | Path | FaultPlan | None = None,
    curve_secret: str | Path | None = None,
    wait_for_subscriber: float | None = None,
    on_bound: Callable[[str], None] | None = None,
    connect: bool = False,
) -> PublishStats:
    """Run the simulator and publish it in real time: the ``kibo-console sim`` body.

    Parameters
    ----------
    dictionary
        A loaded dictionary or a path to one.
    bind
        XPUB bind endpoint, e.g. ``tcp://127.0.0.1:5556``.
    seed, scenario
        Passed to ``Simulator``.
    duration
        Wall-clock seconds to run; ``None`` runs until ``stop_event``.
    rate_scale
        Simulated seconds per wall second (the publisher's speed); see
        ``Simulator`` for how scenarios scale with it.
    stop_event
        Set it to stop (e.g. from a SIGINT handler).
    encoding
        Payload encoding, ``msgpack`` or ``json``.
    faults
        A fault-injection scenario (``telemetry.faults.injection``) applied to the
        messages; its ``at`` offsets are simulated seconds from the start.
    curve_secret
        CurveZMQ server secret key file: the socket then only talks to
        clients that know the matching public key, encrypted.
    wait_for_subscriber
        Seconds to wait for a console before starting; ``None`` starts at once.
    connect
        Connect to ``bind``, a console that listens, instead of binding it.

    Raises
    ------
    ValueError
        For an unknown scenario, a bad rate_scale or key file (before binding).
    FaultPlanError
        For a broken fault scenario, naming its file and line.
    """
    dictionary, plan = check_simulation(dictionary, scenario, rate_scale, faults)
    secret = read_secret_key(curve_secret) if curve_secret is not None else None
    frames = simulated_frames(
        dictionary, seed, duration, rate_scale, scenario, plan, encoding
    )
    return publish(
        frames,
        bind,
        speed=rate_scale,
        stop_event=stop_event,
        wait_for_subscriber=wait_for_subscriber,
        encoding=encoding,
        on_bound=on_bound,
        curve_secret_key=secret,
        connect=connect,
    )


def run_secure_simulator(
    dictionary: TelemetryDictionary | Path | str = DEFAULT_DICTIONARY,
    *,
    bind: str,
    curve_secret: str | Path,
    allowed: Iterable[str | Path] = (),
    server_key: str | Path | None = None,
    connect: bool = False,
    seed: int = 1,
    duration: float | None = None,
    rate_scale: float = 1.0,
    scenario: str = "nominal",
    stop_event: threading.Event | None = None,
    encoding: Literal["json", "msgpack"] = "msgpack",
    faults: str | Path | FaultPlan | None = None,
    wait_for_subscriber: float | None = None,
    on_bound: Callable[[str], None] | None = None,
) -> PublishStats:
    """Run the simulator with CurveZMQ: a server admitting only ``allowed`` consoles.

    With ``server_key`` (the listening console's public key file) it is a
    CURVE client instead, and ``connect`` makes ``bind`` an endpoint to
    connect to. See ``load_publisher_curve`` for ``allowed``; otherwise as
    ``telemetry.bus.publisher.run_simulator``.

    Raises
    ------
    ValueError
        For an unknown scenario, a bad rate_scale or key file, or no allowed key
        (all before binding).
    """
    dictionary, plan = check_simulation(dictionary, scenario, rate_scale, faults)
    curve = load_publisher_curve(curve_secret, allowed, server_key)
    frames = simulated_frames(
        dictionary, seed, duration, rate_scale, scenario, plan, encoding
    )
    return publish_with_curve(
        frames,
        bind,
        curve,
        speed=rate_scale,
        stop_event=stop_event,
        wait_for_subscriber=wait_for_subscriber,
        encoding=encoding,
        on_bound=on_bound,
        connect=connect,
    )
