#!/usr/bin/env bash
# make demo-ib2: the whole chain in Int-Ball2's own downlink format.
#   simulator (robot ib2-a as Int-Ball2 UDP datagrams, dock records)
#     -> kibo-console ib2-bridge (UDP in, protocol v1 out)
#     -> the console on the one-robot-and-dock profile.
# Ports as JAXA's ground software (34567 robot, 49304 dock) unless overridden.
set -euo pipefail
bin=.venv/bin/kibo-console
robot="127.0.0.1:${KIBO_IB2_PORT:-34567}"
dock="127.0.0.1:${KIBO_IB2_DOCK_PORT:-49304}"
bus="tcp://127.0.0.1:${KIBO_IB2_BUS_PORT:-5566}"
"$bin" ib2-bridge --udp "$robot" --dock-udp "$dock" --bind "$bus" &
bridge=$!
"$bin" sim --bind "tcp://127.0.0.1:${KIBO_IB2_SIM_PORT:-5567}" \
  --ib2-udp "$robot" --ib2-dock-udp "$dock" "$@" &
sim=$!
trap 'kill "$bridge" "$sim" 2>/dev/null || true' EXIT
bash scripts/run_gui.sh "$bin" --connect "$bus" --dictionary resources/ib2/dictionary.toml
