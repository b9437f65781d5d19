#!/usr/bin/env bash
# Local Kubernetes control plane + simulated kubelets for integration tests.
#
#   cluster.sh build [--kubelet]     build (or reuse) the cached localcluster and pause binaries
#                                    (and the kubelet, for real nodes), print localcluster's path
#   cluster.sh up [flags...]         start a cluster in $PREPULLER_CLUSTER_DIR, wait until usable,
#                                    print the kubeconfig path as the last line of stdout
#   cluster.sh down                  stop the cluster started in $PREPULLER_CLUSTER_DIR, remove the dir
#   cluster.sh restart               kill the cluster in $PREPULLER_CLUSTER_DIR (SIGKILL, as a crash)
#                                    and start it again on the same port, certificates and etcd
#                                    data, then wait until usable (for apiserver-restart tests)
#   cluster.sh status                print simulator.json of the running cluster
#
# up flags: --nodes N, --real-nodes 0|1, --pull-seconds S, --pull-jitter F, --node-images N|MIN-MAX,
#           --image-list-refresh-seconds S, --node-status-seconds S, --node-status-max-images N,
#           --dir DIR, --timeout SECONDS, and any other localcluster flag (see README.md), passed through.
#           With --real-nodes 1, registry.json (address, username, password, images) is written
#           beside the kubeconfig.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_DIR="${PREPULLER_CLUSTER_DIR:-/tmp/prepuller-cluster}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-image-prepuller/localcluster"

# startup_logs LOG: what a failed start-up left, before the cluster directory is removed: the
# last lines of localcluster's log without etcd's reconnect noise (a shutdown floods it), and
# the last lines of each real node's kubelet and containerd logs.
startup_logs() {
  echo "----- last lines of $1 -----" >&2
  grep -v -e 'grpc: addrConn.createTransport' -e 'retrying of unary invoker failed' "$1" | tail -n 40 >&2 || true
  local f
  for f in "$CLUSTER_DIR"/realnode-*/kubelet.log "$CLUSTER_DIR"/realnode-*/containerd.log; do
    [[ -f "$f" ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 15 "$f" >&2 || true
  done
}

die() { echo "cluster.sh: ERROR: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

cache_key() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH (Go >= 1.26 is needed to build localcluster)"
  (
    cd "$HERE"
    echo "recipe=3" # bump when the build commands below change
    go version
    for f in go.mod go.sum $(ls *.go pause/*.go | LC_ALL=C sort); do
      echo "== $f"
      cat "$f"
    done
  ) | sha256sum | cut -c1-16
}

# build [--kubelet]: localcluster and pause (all that simulated nodes need); with --kubelet also
# the upstream kubelet, which only a real node (--real-nodes 1) runs. Each binary is built into a
# temporary file and renamed into place, so an interrupted build is never taken for a finished one.
# localcluster and the kubelet have a lock each: a caller that needs only localcluster waits for
# that build, not for a kubelet another caller builds after it.
build() {
  local with_kubelet=0 key bin dir
  [[ "${1:-}" == --kubelet ]] && with_kubelet=1
  key="$(cache_key)"
  dir="$CACHE_ROOT/$key"
  bin="$dir/localcluster"
  built() { [[ -x "$bin" && -x "$dir/pause" ]] && { ((with_kubelet == 0)) || [[ -x "$dir/kubelet" ]]; }; }
  if built; then
    log "using the cached build in $dir"
    echo "$bin"
    return 0
  fi
  mkdir -p "$dir"
  # The kubelet is upstream's own main package at the version go.mod pins (a `tool` of this
  # module); both report that version, as release builds do.
  local k8s_version vpkg ldflags tmp
  k8s_version="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$HERE/go.mod")"
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=$(cut -d. -f1 <<<"${k8s_version#v}") -X $vpkg.gitMinor=$(cut -d. -f2 <<<"$k8s_version") -X $vpkg.gitTreeState=clean"
  # shellcheck source=../../harness/long-step.sh
  source "$HERE/../../harness/long-step.sh"
  export LONG_STEP_PREFIX=cluster.sh
  # One build per binary and key at a time (several clusters / test processes may race here);
  # holding the lock, leftovers of a killed build of that binary can go.
  exec 9>"$dir/.lock"
  flock 9
  if [[ ! -x "$bin" || ! -x "$dir/pause" ]]; then
    rm -rf "$dir"/build.tmp.*
    tmp="$dir/build.tmp.$$"
    mkdir -p "$tmp"
    long_step "building localcluster $k8s_version (etcd, kube-apiserver, controller-manager, scheduler, the kubelet simulator; cache key $key), for the local cluster" "8 min" \
      bash -c 'cd "$1" && go build -p 2 -trimpath -ldflags="$2" -o "$3/localcluster" . && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$3/pause" ./pause' \
      _ "$HERE" "$ldflags" "$tmp" || { rm -rf "$tmp"; die "go build of test/cluster failed (see the compiler output above)"; }
    mv -f "$tmp/pause" "$dir/pause"
    mv -f "$tmp/localcluster" "$bin"
    rm -rf "$tmp"
  fi
  exec 9>&-
  if ((with_kubelet)); then
    exec 9>"$dir/.lock-kubelet"
    flock 9
    if [[ ! -x "$dir/kubelet" ]]; then
      rm -rf "$dir"/kubelet.tmp.*
      tmp="$dir/kubelet.tmp.$$"
      mkdir -p "$tmp"
      long_step "building the kubelet $k8s_version (k8s.io/kubernetes/cmd/kubelet), for the real node only" "3 min after localcluster" \
        bash -c 'cd "$1" && go build -p 2 -trimpath -ldflags="$2" -o "$3/kubelet" k8s.io/kubernetes/cmd/kubelet' \
        _ "$HERE" "$ldflags" "$tmp" || { rm -rf "$tmp"; die "go build of the kubelet failed (see the compiler output above)"; }
      mv -f "$tmp/kubelet" "$dir/kubelet"
      rm -rf "$tmp"
    fi
    exec 9>&-
  fi
  echo "$bin"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

up() {
  local nodes=3 real=0 timeout=300 args=()
  while (( $# > 0 )); do
    case "$1" in
      --nodes) nodes="$2"; args+=("--nodes=$2"); shift 2 ;;
      --nodes=*) nodes="${1#*=}"; args+=("$1"); shift ;;
      --real-nodes) real="$2"; args+=("--real-nodes=$2"); shift 2 ;;
      --real-nodes=*) real="${1#*=}"; args+=("$1"); shift ;;
      --dir) CLUSTER_DIR="$2"; shift 2 ;;
      --dir=*) CLUSTER_DIR="${1#*=}"; shift ;;
      --timeout) timeout="$2"; shift 2 ;;
      --timeout=*) timeout="${1#*=}"; shift ;;
      --*=*) args+=("$1"); shift ;;
      --*) [[ $# -ge 2 ]] || die "flag $1 needs a value"; args+=("$1=$2"); shift 2 ;;
      *) die "unexpected argument: $1" ;;
    esac
  done
  [[ "$nodes" =~ ^[0-9]+$ ]] || die "--nodes must be a number, got '$nodes'"
  [[ "$real" =~ ^[01]$ ]] || die "--real-nodes must be 0 or 1, got '$real'"
  if [[ "$real" == 1 ]]; then
    [[ $EUID -eq 0 ]] || die "--real-nodes needs root (containerd, runc, network interfaces)"
    bash "$HERE/install-node-deps.sh" >&2 || die "the real node's Debian packages could not be installed"
  fi

  if [[ -f "$CLUSTER_DIR/localcluster.pid" ]] && pid_alive "$(cat "$CLUSTER_DIR/localcluster.pid")"; then
    die "a cluster is already running in $CLUSTER_DIR (pid $(cat "$CLUSTER_DIR/localcluster.pid")); run 'cluster.sh down' first or set PREPULLER_CLUSTER_DIR"
  fi
  local bin
  if [[ "$real" == 1 ]]; then bin="$(build --kubelet)"; else bin="$(build)"; fi || die "build failed"
  rm -rf "$CLUSTER_DIR"
  mkdir -p "$CLUSTER_DIR"
  printf '%s\n' "${args[@]}" >"$CLUSTER_DIR/args"
  launch "$bin" "$((nodes + real))" "$timeout" "${args[@]}"
  echo "$CLUSTER_DIR/kubeconfig"
}

# launch BIN NODES TIMEOUT ARGS...: start localcluster in $CLUSTER_DIR and wait until NODES are Ready.
launch() {
  local bin="$1" nodes="$2" timeout="$3"
  shift 3
  local logf="$CLUSTER_DIR/localcluster.log"
  # setsid: the cluster gets its own process group (pgid = pid), which 'down' kills.
  setsid nohup "$bin" --dir="$CLUSTER_DIR" "$@" >>"$logf" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$CLUSTER_DIR/localcluster.pid"
  log "started localcluster pid $pid in $CLUSTER_DIR (log: $logf), waiting for $nodes Ready nodes without the not-ready taint..."

  local start deadline
  start=$(date +%s)
  deadline=$(( start + timeout ))
  while :; do
    if ! pid_alive "$pid"; then
      startup_logs "$logf"
      down_dir >&2 || true
      die "localcluster exited during start-up (log above; $CLUSTER_DIR removed)"
    fi
    if [[ -f "$CLUSTER_DIR/kubeconfig" ]] && "$bin" check --dir="$CLUSTER_DIR" --nodes="$nodes" 2>"$CLUSTER_DIR/check.err"; then
      break
    fi
    if (( $(date +%s) > deadline )); then
      echo "----- last check: $(cat "$CLUSTER_DIR/check.err" 2>/dev/null) -----" >&2
      startup_logs "$logf"
      down_dir >&2 || true
      die "cluster not ready after ${timeout}s (log above; $CLUSTER_DIR removed)"
    fi
    sleep 0.5
  done
  rm -f "$CLUSTER_DIR/check.err"
  log "cluster ready in $(( $(date +%s) - start ))s ($nodes nodes)"
}

restart() {
  local timeout=300
  while (( $# > 0 )); do
    case "$1" in
      --dir) CLUSTER_DIR="$2"; shift 2 ;;
      --dir=*) CLUSTER_DIR="${1#*=}"; shift ;;
      --timeout) timeout="$2"; shift 2 ;;
      --timeout=*) timeout="${1#*=}"; shift ;;
      *) die "unexpected argument: $1" ;;
    esac
  done
  [[ -f "$CLUSTER_DIR/args" && -f "$CLUSTER_DIR/simulator.json" ]] || die "no cluster started by 'cluster.sh up' in $CLUSTER_DIR"
  compgen -G "$CLUSTER_DIR/realnode-*" >/dev/null && die "restart is not supported for a cluster with real nodes"
  local port pid args=() nodes=3 a
  port="$(sed -n 's|.*"apiServer": *"https://127.0.0.1:\([0-9]*\)".*|\1|p' "$CLUSTER_DIR/simulator.json")"
  [[ -n "$port" ]] || die "cannot read the apiserver port from $CLUSTER_DIR/simulator.json"
  while IFS= read -r a; do
    case "$a" in
      ""|--port=*) ;;
      --nodes=*) nodes="${a#*=}"; args+=("$a") ;;
      *) args+=("$a") ;;
    esac
  done <"$CLUSTER_DIR/args"
  pid="$(cat "$CLUSTER_DIR/localcluster.pid")"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  pid_alive "$pid" && die "pid $pid survived SIGKILL"
  log "killed localcluster pid $pid; starting it again on port $port"
  local bin
  bin="$(build)" || die "build failed"
  launch "$bin" "$nodes" "$timeout" "${args[@]}" "--port=$port"
}

down_dir() {
  local pidf="$CLUSTER_DIR/localcluster.pid" pid grace=100
  # Real nodes tear down their pods, containerd and kubelet on SIGTERM: give them time.
  compgen -G "$CLUSTER_DIR/realnode-*/realnode.json" >/dev/null && grace=600
  if [[ -f "$pidf" ]]; then
    pid="$(cat "$pidf")"
    if pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 "$grace"); do
        pid_alive "$pid" || break
        sleep 0.1
      done
      if pid_alive "$pid"; then
        log "pid $pid did not stop after $((grace / 10))s, killing"
      fi
      kill -KILL -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        pid_alive "$pid" || break
        sleep 0.1
      done
    fi
  fi
  # Whatever a killed real node left: shims, containers, mounts, interfaces.
  if compgen -G "$CLUSTER_DIR/realnode-*/realnode.json" >/dev/null; then
    local bin
    bin="$(build)" && "$bin" cleanup --dir="$CLUSTER_DIR" >&2 || log "cleanup of the real node failed"
  fi
  rm -rf "$CLUSTER_DIR"
}

down() {
  while (( $# > 0 )); do
    case "$1" in
      --dir) CLUSTER_DIR="$2"; shift 2 ;;
      --dir=*) CLUSTER_DIR="${1#*=}"; shift ;;
      *) die "unexpected argument: $1" ;;
    esac
  done
  down_dir
  log "stopped and removed $CLUSTER_DIR"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  build) build "$@" ;;
  up) up "$@" ;;
  down) down "$@" ;;
  restart) restart "$@" ;;
  status) cat "$CLUSTER_DIR/simulator.json" ;;
  *) die "usage: cluster.sh build | up [--nodes N] [--pull-seconds S] [...] | down | restart | status" ;;
esac
