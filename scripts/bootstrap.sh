#!/usr/bin/env bash
# Creates .venv with the pinned stack. Idempotent: reinstalls only when
# pyproject.toml or constraints.txt changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root=$(pyenv root)
    candidates+=("$root"/versions/3.10.*/bin/python3.10)
  fi
  candidates+=("$HOME"/.pyenv/versions/3.10.*/bin/python3.10)
  if command -v python3.10 >/dev/null 2>&1; then
    candidates+=("$(command -v python3.10)")
  fi
  local c
  for c in "${candidates[@]}"; do
    if [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

stamp_value=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
stamp_file=.venv/.cdnrec-installed
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_value" ] && [ -x .venv/bin/cdnrec ]; then
  exit 0
fi

if ! PY=$(find_python310); then
  echo "error: no Python 3.10 found (looked under \$(pyenv root)/versions/3.10.* and on PATH)." >&2
  echo "TFX 1.16, ml-metadata 1.16 and ScaNN 1.3.2 need Python 3.10: install it, e.g. 'pyenv install 3.10'." >&2
  exit 1
fi
echo "bootstrap: using $PY" >&2
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade "pip==24.3.1" "setuptools==75.6.0" wheel
.venv/bin/pip install --quiet -c constraints.txt -e ".[test]"
echo "$stamp_value" > "$stamp_file"
echo "bootstrap: .venv ready" >&2
