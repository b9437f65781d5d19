#!/usr/bin/env bash
# Makes (or reuses) the Python virtual environment the example runs in: requirements.txt from
# PyPI plus the generated SDK in sdk/python. Prints the venv's directory as the LAST line of stdout.
#
#   venv.sh            (PYTHON=python3.11 venv.sh to choose the interpreter)
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/python-venv-<hash of the Python
# version, requirements.txt and sdk/python>; a changed SDK or requirement makes a new one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
log() { echo "venv: $*" >&2; }
python="${PYTHON:-python3}"

key="$( {
  "$python" --version
  cat "$here/requirements.txt"
  (cd "$repo/sdk/python" && find . -type f -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum)
} | sha256sum | cut -c1-12)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller"
venv="$cache_root/python-venv-$key"

if [[ -f "$venv/.complete" ]]; then
  echo "$venv"
  exit 0
fi
mkdir -p "$cache_root"
exec 9>"$cache_root/.python-venv.lock"
flock 9
if [[ -f "$venv/.complete" ]]; then
  echo "$venv"
  exit 0
fi

log "creating $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
# pip builds a local project in place: build from a copy, so that sdk/python stays clean.
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
cp -r "$repo/sdk/python" "$src/sdk"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" "$src/sdk" >&2
touch "$venv/.complete"
log "ready: $venv"
echo "$venv"
