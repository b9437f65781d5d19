# shellcheck shell=bash
# Source this to run the Pulumi engine offline and isolated:
#
#   source test/toolchain/env.sh "$(bash test/toolchain/ensure.sh | tail -n1)"
#   source test/toolchain/env.sh          # runs ensure.sh itself (may build)
#
# Exports:
#   PATH            <bin dir>:<repo>/node_modules/.bin:$PATH:<repo>/test/toolchain/plugin
#                   (node from node_modules/.bin is Node 24; the plugin dir is a fallback
#                   for pulumi-resource-pulumi-nodejs when an ambient pulumi is used)
#   PULUMI_HOME     $PREPULLER_PULUMI_HOME if set, else <repo>/test/toolchain/.pulumi-home
#   PULUMI_SKIP_UPDATE_CHECK=true, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
#   PULUMI_CONFIG_PASSPHRASE  (for the file:// backend) unless it or
#                   PULUMI_CONFIG_PASSPHRASE_FILE is already set
#   PULUMI_PREPULLER_NODE_MODULES  <repo>/node_modules (the dynamic-provider plugin's
#                   fallback for finding @pulumi/pulumi)
#   PULUMI_TOOLCHAIN_BIN  the bin dir
# PULUMI_BACKEND_URL is left alone: use `pulumi login file://DIR` or set it per test.

_tc_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_tc_repo="$(cd "$_tc_here/../.." && pwd)"
_tc_bin="${1:-${PULUMI_TOOLCHAIN_BIN:-}}"
if [[ -z "$_tc_bin" ]]; then
  _tc_bin="$(bash "$_tc_here/ensure.sh" | tail -n1)" || { echo "env.sh: ensure.sh failed" >&2; return 1 2>/dev/null || exit 1; }
fi
if [[ ! -x "$_tc_bin/pulumi" ]]; then
  echo "env.sh: no pulumi in '$_tc_bin'" >&2
  return 1 2>/dev/null || exit 1
fi
export PULUMI_TOOLCHAIN_BIN="$(cd "$_tc_bin" && pwd)"
export PATH="$PULUMI_TOOLCHAIN_BIN:$_tc_repo/node_modules/.bin:$PATH:$_tc_here/plugin"
# The user's own plugin cache, where an installed @pulumi/kubernetes plugin of the pinned version is reused.
export PREPULLER_USER_PULUMI_HOME="${PREPULLER_USER_PULUMI_HOME:-${PULUMI_HOME:-$HOME/.pulumi}}"
export PULUMI_HOME="${PREPULLER_PULUMI_HOME:-$_tc_here/.pulumi-home}"
mkdir -p "$PULUMI_HOME"
# The @pulumi/kubernetes plugin (built from Go modules on first use), in this PULUMI_HOME's plugin cache.
bash "$_tc_here/kubernetes-plugin/ensure.sh" --install "$PULUMI_HOME" >/dev/null || { echo "env.sh: the kubernetes plugin could not be built" >&2; return 1 2>/dev/null || exit 1; }
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
if [[ -z "${PULUMI_CONFIG_PASSPHRASE+x}" && -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
  export PULUMI_CONFIG_PASSPHRASE="prepuller-local-test"
fi
export PULUMI_PREPULLER_NODE_MODULES="$_tc_repo/node_modules"
unset _tc_here _tc_repo _tc_bin
