#!/usr/bin/env bash
# `npm test` on a fresh clone: install the npm packages first (Node 24 comes with them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ ! -x node_modules/.bin/mocha || ! -x node_modules/.bin/node ]]; then
  echo "== installing npm packages (npm ci)" >&2
  npm ci --no-fund --no-audit >&2
fi
