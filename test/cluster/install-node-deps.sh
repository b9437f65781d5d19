#!/usr/bin/env bash
# Installs the Debian packages a real node needs (containerd, runc, the CNI plugins, the
# static busybox the local registry's images are built from, iproute2), unless present.
set -euo pipefail
need=()
[[ -x /usr/bin/containerd ]] || need+=(containerd)
[[ -x /usr/sbin/runc ]] || need+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || need+=(containernetworking-plugins)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
if (( ${#need[@]} > 0 )); then
  echo "install-node-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
