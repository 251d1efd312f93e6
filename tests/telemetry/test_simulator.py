"""The simulator: determinism, dictionary coverage, robot physics, scenarios."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.wire import decode_frame
from telemetry.radiation.spaceweather import in_saa
from telemetry.sim.simulator import (
    SCENARIOS,
    SimFrame,
    Simulator,
    bench_frames,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

T0 = 1_750_000_000.0
Series = dict[str, dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def shipped() -> TelemetryDictionary:
    return TelemetryDictionary.load()


def collect(frames: Iterable[SimFrame]) -> Series:
    """Concatenate frames per source: {source: {"t": times, channel: values}}."""
    parts: dict[str, dict[str, list[np.ndarray]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for f in frames:
        parts[f.source]["t"].append(f.times)
        for name, values in f.columns.items():
            parts[f.source][name].append(values)
    return {s: {k: np.concatenate(v) for k, v in ch.items()} for s, ch in parts.items()}


def run(
    shipped: TelemetryDictionary,
    seconds: float,
    scenario: str = "nominal",
    *,
    seed: int = 7,
    rate_scale: float = 1.0,
    batch_s: float | None = None,
) -> Series:
    sim = Simulator(shipped, seed, scenario, rate_scale, T0, batch_s=batch_s)
    return collect(sim.frames_until(T0 + seconds))


def first_time(series: dict[str, np.ndarray], mask: np.ndarray) -> float:
    assert mask.any()
    return float(series["t"][np.argmax(mask)] - T0)


@pytest.fixture(scope="module")
def nominal_day(shipped: TelemetryDictionary) -> Series:
    return run(shipped, 86400.0, batch_s=3600.0)


# --- Determinism and the wire --------------------------------------------------------


def test_same_seed_gives_identical_messages(shipped: TelemetryDictionary) -> None:
    def messages(seed: int) -> list[list[bytes]]:
        sim = Simulator(shipped, seed, "nominal", start_time=T0)
        return [f.encode() for f in sim.frames_until(T0 + 120)]

    first = messages(11)
    assert first == messages(11)
    assert first != messages(12)


def test_output_does_not_depend_on_batching(shipped: TelemetryDictionary) -> None:
    sim = Simulator(shipped, 5, "nav-loss", start_time=T0, batch_s=1.0)
    split = [*sim.frames_until(T0 + 40), *sim.frames_until(T0 + 95.5)]
    # Whole batches: the second call ran up to the first boundary >= 95.5 s.
    assert sim.now == T0 + 96
    one = collect(split)
    other = run(shipped, 96, "nav-loss", seed=5, batch_s=13.0)
    for source, channels in one.items():
        n = channels["t"].shape[0]
        for name, values in channels.items():
            np.testing.assert_array_equal(values, other[source][name][:n], err_msg=name)


def test_frames_are_in_sample_time_order_with_seq_per_source(
    shipped: TelemetryDictionary,
) -> None:
    sim = Simulator(shipped, 1, start_time=T0, batch_s=10.0)
    frames = list(sim.frames_until(T0 + 60))
    last = [float(f.times[-1]) for f in frames]
    assert last == sorted(last)
    seqs: dict[str, list[int]] = defaultdict(list)
    for f in frames:
        seqs[f.source].append(f.seq)
        assert np.all(np.diff(f.times) > 0)
    for source, values in seqs.items():
        assert values == list(range(len(values))), source


def test_emits_exactly_the_declared_measured_channels(
    shipped: TelemetryDictionary,
) -> None:
    frames = list(Simulator(shipped, 3, start_time=T0).frames_until(T0 + 30))
    emitted: dict[str, set[str]] = defaultdict(set)
    for f in frames:
        assert shipped.sources[f.source].family == f.family
        emitted[f.family] |= set(f.columns)
    assert {f.source for f in frames} == set(shipped.sources)
    for family, channels in shipped.families.items():
        measured = {n for n, spec in channels.items() if not spec.derived}
        assert emitted[family] == measured, family


def test_enum_values_are_states_of_the_dictionary(shipped: TelemetryDictionary) -> None:
    for scenario in SCENARIOS:
        sim = Simulator(shipped, 2, scenario, start_time=T0, batch_s=30.0)
        for f in sim.frames_until(T0 + 400):
            for name, values in f.columns.items():
                spec = shipped.families[f.family][name]
                if not spec.states:
                    assert values.dtype.kind in "fi", name
                    assert np.all(np.isfinite(values)), name
                elif values.dtype == bool:
                    assert set(spec.states.values()) == {0, 1}, name
                else:
                    assert set(values.tolist()) <= set(spec.states), name


@pytest.mark.parametrize("encoding", ["msgpack", "json"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_frames_round_trip_through_the_wire(
    shipped: TelemetryDictionary, encoding: str, scenario: str
) -> None:
    sim = Simulator(shipped, 4, scenario, start_time=T0, batch_s=50.0)
    for frame in sim.frames_until(T0 + 200):
        decoded = decode_frame(frame.encode(encoding))  # type: ignore[arg-type]
        assert (decoded.family, decoded.source, decoded.seq) == (
            frame.family,
            frame.source,
            frame.seq,
        )
        np.testing.assert_array_equal(decoded.times, frame.times)
        assert decoded.columns == {n: v.tolist() for n, v in frame.columns.items()}


def test_crew_module_goes_as_a_string(shipped: TelemetryDictionary) -> None:
    frame = next(
        f
        for f in Simulator(shipped, 1, start_time=T0).frames_until(T0 + 1)
        if f.family == "crew"
    )
    decoded = decode_frame(frame.encode())
    assert all(
        isinstance(m, str) and m in shipped.modules for m in decoded.columns["module"]
    )


def test_a_smaller_dictionary_gets_only_its_channels(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    frames = list(Simulator(tiny_dictionary, 1, start_time=T0).frames_until(T0 + 5))
    assert {(f.source, tuple(f.columns)) for f in frames} == {
        ("ib2-a", ("pos_x", "battery_pct", "nav_status")),
        ("jpm", ("temp", "rh", "ppco2")),
    }


def test_rejects_unknown_scenario_and_bad_rate_scale(
    shipped: TelemetryDictionary,
) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        Simulator(shipped, 1, "meteor-strike")
    with pytest.raises(ValueError, match="rate_scale"):
        Simulator(shipped, 1, rate_scale=0.0)


# --- Robots --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["nominal", "nav-loss"])
def test_robots_stay_in_the_free_volume_under_the_speed_limit(
    shipped: TelemetryDictionary, scenario: str
) -> None:
    data = run(shipped, 3 * 3600, scenario, batch_s=600.0)
    extent = shipped.modules["JPM"].extent
    for robot in ("ib2-a", "ib2-b"):
        r = data[robot]
        pos = np.stack([r["pos_x"], r["pos_y"], r["pos_z"]], axis=1)
        for axis, (lo, hi) in enumerate(extent[a] for a in "xyz"):
            # The robot's 0.1 m radius stays inside too.
            assert lo + 0.1 <= pos[:, axis].min()
            assert pos[:, axis].max() <= hi - 0.1
        speed = np.linalg.norm(
            np.stack([r["vel_x"], r["vel_y"], r["vel_z"]], 1), axis=1
        )
        assert speed.max() <= 0.20
        # Positions agree: no jumps faster than v_max between 1 Hz samples.
        step = np.linalg.norm(np.diff(pos, axis=0), axis=1) / np.diff(r["t"])
        assert step.max() <= 0.20 + 0.01


def test_robots_avoid_keep_out_zones_and_each_other(nominal_day: Series) -> None:
    a, b = nominal_day["ib2-a"], nominal_day["ib2-b"]
    pa = np.stack([a["pos_x"], a["pos_y"], a["pos_z"]], axis=1)
    pb = np.stack([b["pos_x"], b["pos_y"], b["pos_z"]], axis=1)
    assert np.linalg.norm(pa - pb, axis=1).min() >= 0.2  # two 0.1 m radii
    shipped = TelemetryDictionary.load()
    for zone in shipped.zones:
        if zone.kind != "keep_out":
            continue
        for pos in (pa, pb):
            inside = np.ones(pos.shape[0], dtype=bool)
            for axis, (lo, hi) in enumerate((zone.x, zone.y, zone.z)):
                inside &= (pos[:, axis] > lo - 0.1) & (pos[:, axis] < hi + 0.1)
            assert not inside.any(), zone.name


def test_attitude_is_a_unit_quaternion_facing_the_direction_of_travel(
    shipped: TelemetryDictionary,
) -> None:
    r = run(shipped, 1800, batch_s=300.0)["ib2-a"]
    x, y, z, w = r["quat_x"], r["quat_y"], r["quat_z"], r["quat_w"]
    np.testing.assert_allclose(x * x + y * y + z * z + w * w, 1.0, atol=1e-9)
    # Body +X in the JPM frame: first column of the rotation matrix.
    forward = np.stack(
        [1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)], 1
    )
    vel = np.stack([r["vel_x"], r["vel_y"], r["vel_z"]], axis=1)
    speed = np.linalg.norm(vel, axis=1)
    cruising = (r["ctl_type"] == "MOVE_TO_ABSOLUTE_TARGET") & (speed > 0.05)
    assert cruising.sum() > 100
    cosine = (forward[cruising] * vel[cruising]).sum(axis=1) / speed[cruising]
    assert cosine.min() > 0.99


def test_robots_dock_to_recharge_one_at_a_time(
    nominal_day: Series, shipped: TelemetryDictionary
) -> None:
    docked = {}
    for robot in ("ib2-a", "ib2-b"):
        r = nominal_day[robot]
        docked[robot] = r["mode"] == "STANDBY"
        assert docked[robot].any()
        assert (r["mode"] == "DOCKING").any()
        assert (r["mode"] == "RELEASE").any()
        pos = np.stack([r["pos_x"], r["pos_y"], r["pos_z"]], axis=1)[docked[robot]]
        assert np.abs(pos - np.array(shipped.dock)).max() < 0.01
        battery = r["battery_pct"]
        # Nominal operations never reach the battery warning (<= 20 %).
        assert battery.min() > 20
        assert battery.max() >= 94
        # Each stay on the dock charges the battery.
        edges = np.flatnonzero(np.diff(docked[robot].astype(int)))
        assert edges.size >= 2
        for start, end in zip(edges[::2] + 1, edges[1::2] + 1, strict=False):
            stay = battery[start:end]
            assert (np.diff(stay) >= 0).all()
            assert stay[-1] > stay[0] + 50
        assert set(r["nav_status"].tolist()) == {"FUSION"}
    assert not (docked["ib2-a"] & docked["ib2-b"]).any()


# --- ECLSS, radiation, orbit ---------------------------------------------------------


def test_nominal_cabin_stays_inside_its_limits(nominal_day: Series) -> None:
    jpm = nominal_day["jpm"]
    assert jpm["p_total"].min() > 750
    assert jpm["p_total"].max() < 770
    assert jpm["ppo2"].min() > 150
    assert jpm["ppo2"].max() < 169
    assert jpm["ppco2"].min() > 1.8
    assert jpm["ppco2"].max() < 2.3
    assert jpm["temp"].min() > 21.5
    assert jpm["temp"].max() < 24
    assert jpm["rh"].min() > 35
    assert jpm["rh"].max() < 60
    assert jpm["water_recovery"].min() > 97
    assert jpm["water_recovery"].max() < 99.9
    # Noise: consecutive samples differ.
    assert np.all(np.diff(jpm["ppo2"]) != 0)


def test_daily_dose_matches_padles_and_module_shielding(
    nominal_day: Series, shipped: TelemetryDictionary
) -> None:
    jpm = nominal_day["padles-jpm-1"]
    # PADLES #1 in the Kibo PM: 319 uGy/d and 618 uSv/d (radiation.md 2.5).
    assert jpm["absorbed_rate"].mean() * 24 == pytest.approx(319, rel=0.1)
    assert jpm["dose_eq_rate"].mean() * 24 == pytest.approx(618, rel=0.1)
    # SAA passes: peaks 10-100x above the quiet baseline.
    ratio = jpm["absorbed_rate"].max() / np.median(jpm["absorbed_rate"])
    assert 10 <= ratio <= 100
    for source in ("rem-sm", "rem-node2", "tepc-uslab", "dostel-col"):
        module = shipped.sources[source].module
        assert module is not None
        factor = shipped.modules[module].shielding_factor
        measured = (
            nominal_day[source]["dose_eq_rate"].mean() / jpm["dose_eq_rate"].mean()
        )
        assert measured == pytest.approx(factor, rel=0.05), source


def test_orbit_is_the_iss(nominal_day: Series) -> None:
    iss = nominal_day["iss"]
    assert 51.5 < np.abs(iss["lat"]).max() < 52.0
    assert iss["alt_km"].min() > 400
    assert iss["alt_km"].max() < 440
    ascending = np.flatnonzero((iss["lat"][1:] > 0) & (iss["lat"][:-1] <= 0))
    period_min = float(np.diff(iss["t"][ascending]).mean()) / 60
    assert period_min == pytest.approx(92.8, abs=0.5)  # 15.5 orbits per day
    inside = in_saa(iss["lat"], iss["lon"])
    assert 0.05 < inside.mean() < 0.3


def test_first_saa_pass_comes_two_scenario_minutes_in(
    shipped: TelemetryDictionary,
) -> None:
    for rate_scale in (1.0, 30.0):
        iss = run(shipped, 200 * rate_scale, rate_scale=rate_scale)["iss"]
        inside = in_saa(iss["lat"], iss["lon"])
        assert not inside[: int(110 * rate_scale)].any()
        assert first_time(iss, inside) == pytest.approx(120 * rate_scale, abs=10)


def test_quiet_goes_flux_in_nominal(nominal_day: Series) -> None:
    goes = nominal_day["goes"]
    assert goes["p10"].max() < 10
    assert goes["p100"].max() < 1


# --- Scenarios -----------------------------------------------------------------------


@pytest.mark.parametrize("rate_scale", [1.0, 10.0])
def test_co2_rise_crosses_the_critical_limit(
    shipped: TelemetryDictionary, rate_scale: float
) -> None:
    jpm = run(shipped, 400 * rate_scale, "co2-rise", rate_scale=rate_scale)["jpm"]
    co2 = jpm["ppco2"]
    before = jpm["t"] - T0 < 60 * rate_scale
    assert co2[before].max() < 2.3  # nominal until the CDRA fails
    # Scenario seconds scale with rate_scale: same wall-clock minutes.
    assert first_time(jpm, co2 > 2.7) / rate_scale == pytest.approx(90, abs=10)
    assert first_time(jpm, co2 > 4.0) / rate_scale == pytest.approx(180, abs=15)
    assert co2.max() > 5.0


def test_nav_loss_drifts_then_loses_navigation_and_runs_the_battery_down(
    shipped: TelemetryDictionary,
) -> None:
    data = run(shipped, 420, "nav-loss")
    b = data["ib2-b"]
    nav = b["nav_status"]
    assert first_time(b, nav == "INERTIAL") == 60
    assert first_time(b, nav == "NAV_OFF") == 150
    assert (nav[b["t"] - T0 < 60] == "FUSION").all()
    assert (nav[b["t"] - T0 >= 150] == "NAV_OFF").all()
    assert (b["mode"][nav == "NAV_OFF"] == "OFF_NOMINAL").all()
    assert first_time(b, b["battery_pct"] <= 20) == pytest.approx(180, abs=2)
    assert first_time(b, b["battery_pct"] <= 5) == pytest.approx(300, abs=2)
    pos = np.stack([b["pos_x"], b["pos_y"], b["pos_z"]], axis=1)
    drift = np.linalg.norm(pos[140] - pos[60])
    assert drift > 0.2
    assert set(data["ib2-a"]["nav_status"].tolist()) == {"FUSION"}


def test_spe_replays_the_2017_event_in_minutes(shipped: TelemetryDictionary) -> None:
    data = run(shipped, 400, "spe-2017-09")
    goes = data["goes"]
    assert goes["p10"][goes["t"] - T0 < 45].max() < 10
    assert first_time(goes, goes["p10"] >= 10) == pytest.approx(50.25, abs=5)
    assert goes["p10"].max() >= 1000  # S3
    assert first_time(goes, goes["p10"] >= 1000) < 120
    assert goes["p10"][goes["t"] - T0 > 350].max() < 10  # over
    # Dose rates rise on the high-latitude segment aligned with the peak,
    # less behind the shelter's shielding.
    for source, least in (("padles-jpm-1", 2.5), ("rem-sm", 1.5)):
        rad = data[source]
        t = rad["t"] - T0
        quiet = rad["absorbed_rate"][t < 45].mean()
        peak = rad["absorbed_rate"][(t > 80) & (t < 130)].mean()
        assert peak / quiet > least, source
    c1, c2 = data["c1"], data["c2"]
    during = (c1["t"] - T0 > 80) & (c1["t"] - T0 < 180)
    assert (c1["module"][during] == "SM").all()
    assert not (c2["module"] == "SM").any()


def test_events_list_the_scenario_timeline(shipped: TelemetryDictionary) -> None:
    sim = Simulator(shipped, 1, "nav-loss", rate_scale=2.0, start_time=T0)
    events = {what: t - T0 for t, what in sim.events()}
    assert events["ib2-b NAV_OFF, mode OFF_NOMINAL"] == 300.0
    assert [t for t, _ in sim.events()] == sorted(t for t, _ in sim.events())


# --- Bench ---------------------------------------------------------------------------


def test_bench_frames_are_wide_valid_and_fast(shipped: TelemetryDictionary) -> None:
    frames = bench_frames(shipped, rows=100, families=["robot", "eclss"])
    first = [next(frames) for _ in range(6)]
    assert [f.source for f in first] == ["ib2-a", "ib2-b", "jpm"] * 2
    assert first[0].rows == 100
    assert len(first[0].columns) == 21
    assert first[3].seq == 1
    assert first[3].times[0] == first[0].times[-1] + 1.0
    decoded = decode_frame(first[0].encode())
    assert decoded.rows == 100
    samples, start = 0, time.perf_counter()
    while samples < 2_000_000:
        samples += next(frames).samples
    rate = samples / (time.perf_counter() - start)
    assert rate >= 1e6, f"{rate:,.0f} samples/s"


def test_bench_needs_a_modelled_family(shipped: TelemetryDictionary) -> None:
    with pytest.raises(ValueError, match="no source"):
        next(bench_frames(shipped, families=["nothing"]))
    assert math.isfinite(next(bench_frames(shipped)).times[0])
