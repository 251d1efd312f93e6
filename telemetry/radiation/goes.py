"""GOES integral proton flux files: read ``Date,10,100`` CSVs into numpy arrays.

The shipped file and its provenance are in ``resources/spacewx/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

from telemetry.core.dictionary import REPO_ROOT

DEFAULT_GOES_CSV: Final = (
    REPO_ROOT / "resources" / "spacewx" / "goes13_integral_protons_2017-09-10_to_16.csv"
)


def load_goes_csv(
    path: Path | str = DEFAULT_GOES_CSV,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a GOES integral-flux CSV.

    Parameters
    ----------
    path
        A file of ``YYYY-MM-DD HH:MM:SS,<>10 MeV pfu>,<>100 MeV pfu>`` rows;
        lines starting with ``#`` and blank lines are skipped.

    Returns
    -------
    tuple of numpy.ndarray
        ``(times, p10, p100)``: UTC seconds since the Unix epoch and the two
        fluxes in pfu, all float64, in file order.

    Raises
    ------
    ValueError
        Naming the file and line of a malformed row, a negative or
        non-finite flux, or times that do not increase.
    """
    path = Path(path)
    stamps: list[str] = []
    p10: list[float] = []
    p100: list[float] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split(",")
            try:
                if len(fields) != 3:
                    raise ValueError(f"expected 3 fields, got {len(fields)}")
                stamps.append(fields[0].replace(" ", "T"))
                np.datetime64(stamps[-1], "s")
                a, b = float(fields[1]), float(fields[2])
            except ValueError as exc:
                raise ValueError(
                    f"{path}:{number}: bad GOES row {text!r}: {exc}"
                ) from None
            if not (np.isfinite(a) and np.isfinite(b)) or a < 0 or b < 0:
                raise ValueError(
                    f"{path}:{number}: flux must be finite and >= 0: {text!r}"
                )
            p10.append(a)
            p100.append(b)
    # The file's stamps are UTC without a zone; datetime64 treats them as UTC.
    times = np.array(stamps, dtype="datetime64[s]").astype(np.int64).astype(np.float64)
    if times.size == 0:
        raise ValueError(f"{path}: no GOES rows")
    if times.size > 1 and not bool((np.diff(times) > 0).all()):
        raise ValueError(f"{path}: times must increase")
    return times, np.array(p10), np.array(p100)
