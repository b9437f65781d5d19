#!/usr/bin/env bash
# (Re)generates the go.mod/go.sum of one of our two build modules:
#   cli/          -> the pulumi CLI     (github.com/pulumi/pulumi/pkg/v3, cmd/pulumi)
#   nodejs-host/  -> the Node.js host   (github.com/pulumi/pulumi/sdk/v3 <= v3.68.0,
#                                        nodejs/cmd/pulumi-language-nodejs)
# Upstream modules carry replace directives in their go.mod, which Go ignores
# for dependencies (and which make `go install pkg@version` fail). We read the
# upstream go.mod from the module proxy and translate each replace directive:
#   - "X => ../local/path"       : X is a sibling module of the same repository;
#                                  pin X at the same release (a require, no replace).
#   - "X => Y vN"                : copied as is.
# Run only when bumping versions; the result is committed and ensure.sh builds
# from the committed go.mod/go.sum with -mod=readonly.
#
# Usage: gen-mod.sh cli [pkg-version]          (default v3.259.0)
#        gen-mod.sh nodejs-host [sdk-version]  (default v3.68.0)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
which="${1:?usage: gen-mod.sh cli|nodejs-host [version]}"

case "$which" in
  cli)
    ver="${2:-v3.259.0}"
    upstream="github.com/pulumi/pulumi/pkg/v3"
    tool="github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
    ;;
  nodejs-host)
    ver="${2:-v3.68.0}"
    upstream="github.com/pulumi/pulumi/sdk/v3"
    tool="github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
    ;;
  *) echo "gen-mod: unknown module '$which'" >&2; exit 2 ;;
esac

dir="$here/$which"
mkdir -p "$dir"
json="$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "${upstream}@${ver}")"
modfile="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$modfile" ]] || { echo "gen-mod: cannot fetch go.mod of ${upstream}@${ver}" >&2; exit 1; }

gover="$(awk '$1 == "go" {print $2; exit}' "$modfile")"
# the "tool" directive needs go >= 1.24 in our own go.mod
if [[ "$(printf '%s\n' "$gover" 1.24 | sort -V | head -1)" != 1.24 ]]; then gover=1.24; fi

# Every replace directive, one per line as "OLD[ OLDVER] => NEW[ NEWVER]",
# whether written on one line or inside a replace ( ... ) block.
replaces="$(awk '
  /^replace[[:space:]]*\(/ {blk=1; next}
  blk && /^\)/ {blk=0; next}
  blk && /=>/ {sub(/\/\/.*/, ""); print; next}
  /^replace[[:space:]]/ && /=>/ {sub(/^replace[[:space:]]+/, ""); sub(/\/\/.*/, ""); print}
' "$modfile")"

rm -f "$dir/go.mod" "$dir/go.sum"
(cd "$dir" && go mod init "pulumi-image-prepuller/test/toolchain/$which" >/dev/null 2>&1)
args=(-go="$gover" -require="${upstream}@${ver}")
while read -r old a b c; do
  [[ -z "$old" ]] && continue
  # forms: "old => new [ver]" or "old oldver => new [ver]"
  if [[ "$a" == "=>" ]]; then new="$b"; newver="$c"; else new="$c"; newver="$(awk '{print $5}' <<<"$old $a $b $c")"; old="$old@$a"; fi
  if [[ "$new" == .* || "$new" == /* ]]; then
    # sibling module of the same repository: same release tag
    args+=(-require="${old%@*}@${ver}")
    echo "gen-mod: ${old} => ${new} (local) -> require ${old%@*} ${ver}" >&2
  else
    args+=(-replace="${old}=${new}@${newver}")
    echo "gen-mod: replace ${old} => ${new} ${newver}" >&2
  fi
done <<<"$replaces"
(cd "$dir" && go mod edit "${args[@]}" && go get -tool "$tool@${ver}" && go mod tidy)
echo "gen-mod: wrote $dir/go.mod (tool $tool, ${upstream} ${ver}, go ${gover})" >&2
