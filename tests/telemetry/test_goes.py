"""The shipped GOES-13 file: provenance and the expected values in its README."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pytest

from telemetry.radiation.goes import DEFAULT_GOES_CSV, load_goes_csv

if TYPE_CHECKING:
    from pathlib import Path


def utc(stamp: str) -> float:
    return float(np.datetime64(stamp, "s").astype(np.int64))


def test_shipped_file_is_the_documented_copy() -> None:
    data = DEFAULT_GOES_CSV.read_bytes()
    assert len(data) == 60_407
    digest = hashlib.sha256(data).hexdigest()
    assert digest == "21eaa690c5060d789871ad8bee6667534a43d4bdfbb26406dee1667096946e27"
    readme = (DEFAULT_GOES_CSV.parent / "README.md").read_text(encoding="utf-8")
    assert digest in readme


def test_loader_reproduces_the_readme_values() -> None:
    times, p10, p100 = load_goes_csv()
    assert times.shape == p10.shape == p100.shape == (1729,)
    assert times[0] == utc("2017-09-10T00:00")
    assert times[-1] == utc("2017-09-16T00:00")
    assert np.all(np.diff(times) == 300.0)
    assert p10.max() == 1493.5
    assert times[p10.argmax()] == utc("2017-09-11T11:45")
    assert p100.max() == 68.128
    assert times[p100.argmax()] == utc("2017-09-10T22:15")
    assert times[np.argmax(p10 >= 10)] == utc("2017-09-10T16:45")
    assert times[np.argmax(p100 >= 1)] == utc("2017-09-10T16:25")
    assert [int((p10 >= x).sum()) for x in (10, 100, 1000)] == [1160, 630, 204]


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "goes.csv"
    path.write_text(
        "#Date,10,100\n2017-09-10 00:00:00,0.8,0.02\n2017-09-10 00:05:00,x,1\n"
    )
    with pytest.raises(ValueError, match=rf"{path}:3: bad GOES row"):
        load_goes_csv(path)
    path.write_text("2017-09-10 00:00:00,-1,0.02\n")
    with pytest.raises(ValueError, match=rf"{path}:1: flux must be"):
        load_goes_csv(path)
    path.write_text("2017-09-10 00:05:00,1,1\n2017-09-10 00:00:00,1,1\n")
    with pytest.raises(ValueError, match="times must increase"):
        load_goes_csv(path)
