# shellcheck shell=bash
# Source this from a build script: `long_step LABEL ESTIMATE COMMAND...` runs COMMAND with its
# output in a log file, prints a heartbeat line at least every 30 s while it runs, and on
# failure prints the end of the log. `go: downloading` lines are counted, not shown: on a fresh
# machine they are thousands and say nothing about progress. Lines go to stderr, prefixed with
# $LONG_STEP_PREFIX (the caller's name).
long_step() {
  local label="$1" estimate="$2"
  shift 2
  local prefix="${LONG_STEP_PREFIX:-build}" log start rc hb
  log="$(mktemp -t long-step-XXXXXX.log)"
  start=$SECONDS
  echo "$prefix: $label (about $estimate on a 2-core machine when nothing is cached)" >&2
  (
    parent=$$ n=0 downloaded=0
    while kill -0 "$parent" 2>/dev/null; do
      sleep 1 >/dev/null 2>&1
      n=$((n + 1))
      if ((n % 30 == 0)); then
        downloaded="$(grep -c '^go: downloading' "$log" 2>/dev/null)" || true
        echo "$prefix: ... still $label: ${n}s so far, ${downloaded:-0} modules downloaded" >&2
      fi
    done
  ) &
  hb=$!
  if "$@" >"$log" 2>&1; then rc=0; else rc=$?; fi
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  if ((rc != 0)); then
    echo "$prefix: FAILED: $label (exit $rc after $((SECONDS - start))s); the end of its output:" >&2
    grep -v '^go: downloading' "$log" | tail -n 60 >&2 || true
  else
    echo "$prefix: done: $label in $((SECONDS - start))s" >&2
  fi
  rm -f "$log"
  return "$rc"
}
