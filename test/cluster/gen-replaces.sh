#!/usr/bin/env bash
# Generates the go.mod replace directives that a module depending on
# k8s.io/kubernetes needs: k8s.io/kubernetes's own go.mod points every staging
# module (k8s.io/api, k8s.io/client-go, ...) at ./staging/src/..., which does not
# exist for consumers, and requires them at v0.0.0. We read that list from the
# upstream go.mod and replace each staging module with its published tag.
#
# Usage: ./gen-replaces.sh [kubernetes-version]   (default: v1.37.2)
set -euo pipefail
cd "$(dirname "$0")"
K8S_VERSION="${1:-v1.37.2}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

modfile="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "$modfile" || ! -f "$modfile" ]]; then
  echo "gen-replaces: could not download go.mod of k8s.io/kubernetes@${K8S_VERSION}" >&2
  exit 1
fi

# Lines of the form "<module> => ./staging/src/<module>" (inside or outside a replace block).
mapfile -t staging < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// {print $1} $1 == "replace" && $3 == "=>" && $4 ~ /^\.\/staging\/src\// {print $2}' "$modfile" | sort -u)
if (( ${#staging[@]} == 0 )); then
  echo "gen-replaces: no staging replace directives found in $modfile" >&2
  exit 1
fi

args=(-require="k8s.io/kubernetes@${K8S_VERSION}")
for m in "${staging[@]}"; do
  args+=(-replace="${m}=${m}@${STAGING_VERSION}")
done
go mod edit "${args[@]}"
echo "gen-replaces: k8s.io/kubernetes ${K8S_VERSION}, ${#staging[@]} staging modules replaced at ${STAGING_VERSION}" >&2
