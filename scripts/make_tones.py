"""Generate the annunciator's alarm tones in resources/sounds/ (run once, commit them).

Each severity has its own pattern so it is recognised without looking:
critical = three fast high two-tone pulses, warning = a falling two-note call,
watch = one soft decaying chime. 22.05 kHz, 16-bit mono, < 100 kB each.
Usage: python scripts/make_tones.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 22_050
AMPLITUDE = 0.5  # of full scale: loud enough over fans, no clipping with harmonics
FADE_S = 0.006  # ramps at every edge, so no clicks


def tone(freq: float, seconds: float, *, decay: float = 0.0) -> np.ndarray:
    """Return a sine with some third harmonic (carries better on small speakers)."""
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(2 * np.pi * 3 * freq * t)
    wave_ /= 1.25
    if decay > 0:
        wave_ *= np.exp(-t / decay)
    ramp = min(int(RATE * FADE_S), t.size // 2)
    if ramp:
        edge = np.linspace(0.0, 1.0, ramp)
        wave_[:ramp] *= edge
        wave_[-ramp:] *= edge[::-1]
    return np.asarray(wave_, dtype=np.float64)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds))


def patterns() -> dict[str, np.ndarray]:
    critical = [
        part
        for _ in range(3)
        for part in (tone(1047.0, 0.09), tone(1397.0, 0.09), silence(0.06))
    ]
    warning = [tone(784.0, 0.22), silence(0.04), tone(587.0, 0.30)]
    watch = [tone(659.0, 0.45, decay=0.15)]
    return {
        "critical": np.concatenate(critical),
        "warning": np.concatenate(warning),
        "watch": np.concatenate(watch),
    }


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.round(np.clip(samples * AMPLITUDE, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    out = Path(argv[1]) if len(argv) > 1 else root / "resources" / "sounds"
    out.mkdir(parents=True, exist_ok=True)
    for name, samples in patterns().items():
        path = out / f"{name}.wav"
        write_wav(path, samples)
        print(f"{path}: {samples.size / RATE:.2f} s, {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
