import math

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry.core.wire import WireError, decode_frame, encode_frame

names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12
)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(max_size=10),
    st.none(),
    st.integers(min_value=-(2**53), max_value=2**53),
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[int, list[float], dict[str, list[object]]]:
    rows = draw(st.integers(min_value=0, max_value=20))
    times = draw(
        st.lists(st.floats(1e9, 2e9, allow_nan=False), min_size=rows, max_size=rows)
    )
    cols = draw(st.dictionaries(names, st.lists(values, min_size=rows, max_size=rows)))
    return draw(st.integers(0, 2**63 - 1)), times, cols


@given(frames(), st.sampled_from(["json", "msgpack"]))
def test_round_trip(
    frame: tuple[int, list[float], dict[str, list[object]]], enc: str
) -> None:
    seq, times, cols = frame
    parts = encode_frame("robot", "ib2-a", seq, times, cols, encoding=enc)  # type: ignore[arg-type]
    decoded = decode_frame(parts)
    assert decoded.family == "robot"
    assert decoded.source == "ib2-a"
    assert decoded.seq == seq
    assert decoded.times.tolist() == times
    assert decoded.encoding == enc
    for name, col in cols.items():
        assert len(decoded.columns[name]) == len(col)
        for got, want in zip(decoded.columns[name], col, strict=True):
            assert got == want


def test_numpy_nan_is_sent_as_null() -> None:
    parts = encode_frame(
        "eclss", "jpm", 1, np.array([1.0, 2.0]), {"temp": np.array([22.0, np.nan])}
    )
    assert decode_frame(parts).columns["temp"] == [22.0, None]


def body(**kw: object) -> bytes:
    env: dict[str, object] = {
        "v": 1,
        "src": "ib2-a",
        "seq": 1,
        "t": [1.7e9],
        "ch": {"x": [1.0]},
    }
    env.update(kw)
    return msgspec.json.encode(env)


@pytest.mark.parametrize(
    ("parts", "reason", "where"),
    [
        ([b"robot.ib2-a"], "bad frame count", "got 1"),
        ([b"robot.ib2-a", body(), b"x"], "bad frame count", "got 3"),
        ([b"robotib2a", body()], "bad topic", "robotib2a"),
        ([b"robot.ib2-a", b""], "bad encoding", "empty"),
        ([b"robot.ib2-a", b"{not json"], "bad encoding", "json"),
        ([b"robot.ib2-a", b"\xc1\xc1"], "bad encoding", "msgpack"),
        ([b"robot.ib2-a", body(v=2)], "unsupported version", "v=2"),
        ([b"robot.ib2-a", body(src="ib2-b")], "source mismatch", "ib2-b"),
        ([b"robot.ib2-a", body(ch={"x": [1.0, 2.0]})], "length mismatch", "'x'"),
        ([b"robot.ib2-a", body(seq=-1)], "bad field", "seq"),
        ([b"robot.ib2-a", body(t="now")], "bad field", "$.t"),
        ([b"robot.ib2-a", body(ch={"x": [[1.0]]})], "bad field", "$.ch.x[0]"),
        ([b"robot.ib2-a", body(ch={"x": [{"a": 1}]})], "bad field", "$.ch.x[0]"),
    ],
)
def test_rejections_say_what_and_where(
    parts: list[bytes], reason: str, where: str
) -> None:
    with pytest.raises(WireError) as info:
        decode_frame(parts)
    assert info.value.reason == reason
    assert where in str(info.value)


def test_non_finite_time_rejected_in_msgpack() -> None:
    payload = msgspec.msgpack.encode(
        {"v": 1, "src": "ib2-a", "seq": 1, "t": [1.0, math.nan], "ch": {}}
    )
    with pytest.raises(WireError, match=r"t\[1\]"):
        decode_frame([b"robot.ib2-a", payload])


def test_deep_nesting_is_rejected_not_recursed() -> None:
    deep = (
        b'{"v":1,"src":"ib2-a","seq":1,"t":[1],"ch":{"x":['
        + b"[" * 100_000
        + b"]" * 100_000
        + b"]}}"
    )
    with pytest.raises(WireError):
        decode_frame([b"robot.ib2-a", deep])
