#!/usr/bin/env bash
# Installs the npm packages on a fresh clone (`npm test`, `npm run demo`, `.ci/run`), under the
# Node.js the project needs (>= 22.12; Node 24 comes as the `node` npm package). When the machine's
# Node is older, a Node 24 is fetched first (cached outside the clone, keyed by version) and
# `npm ci` runs under it, so that npm has no engine warnings to print about our dependencies.
# Prints nothing on a clone that is already installed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ -x node_modules/.bin/mocha && -x node_modules/.bin/node ]] && exit 0

machine_ok() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}
if ! machine_ok; then
  version="$(node -e 'console.log(require("./package-lock.json").packages["node_modules/node"].version)')"
  boot="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/node-$version"
  if [[ ! -x "$boot/node_modules/.bin/node" ]]; then
    echo "== fetching Node $version for the install (this machine has Node $(node --version))" >&2
    mkdir -p "$(dirname "$boot")"
    tmp="$(mktemp -d "${boot}.XXXXXX")"
    printf '{"private":true,"allowScripts":{"node":true}}\n' >"$tmp/package.json"
    (cd "$tmp" && npm install --no-save --no-package-lock --no-fund --no-audit --loglevel=error "node@$version" >&2)
    rm -rf "$boot" && mv "$tmp" "$boot"
  fi
  export PATH="$boot/node_modules/.bin:$PATH"
fi
echo "== installing npm packages (npm ci, Node $(node --version))" >&2
npm ci --no-fund --no-audit >&2
