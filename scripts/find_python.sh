#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter, or explains what to install.
# 3.12+ is required: PySide6 6.12.0 aborts Python 3.11 (bool_dealloc).
set -euo pipefail
candidates=()
[ -n "${KIBO_PYTHON:-}" ] && candidates+=("$KIBO_PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for v in $(ls -1 "$root/versions" 2>/dev/null | grep -E '^3\.1[2-9]\.[0-9]+$' | sort -V); do
    candidates+=("$root/versions/$v/bin/python")
  done
fi
candidates+=(python3.13 python3.12 python3)
for c in "${candidates[@]}"; do
  if p=$(command -v "$c" 2>/dev/null) && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
echo "No Python >= 3.12 found. Install one (e.g. 'pyenv install 3.12') or set KIBO_PYTHON." >&2
exit 1
