#!/usr/bin/env bash
# Starts the console: on the desktop if there is one, otherwise on a virtual
# screen (Xvfb) for KIBO_DEMO_SECONDS (default 60) and saves a screenshot.
set -euo pipefail
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$@"
fi
shot="${KIBO_DEMO_SCREENSHOT:-$PWD/demo-screenshot.png}"
seconds="${KIBO_DEMO_SECONDS:-60}"
echo "No display: running the console on a virtual screen (Xvfb) for ${seconds} s;"
echo "a screenshot will be saved to ${shot}. Set DISPLAY to see the window live."
exec xvfb-run -a -s "-screen 0 1680x1050x24" "$@" --screenshot "$shot" --quit-after "$seconds"
