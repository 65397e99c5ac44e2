#!/usr/bin/env bash
# Builds the controller image from this checkout with `docker build`.
#
#   scripts/build-image.sh [-t TAG] [--base IMAGE] [--ca FILE]
#
#   -t TAG        image name (default myaas:local)
#   --base IMAGE  Node.js base image (default: the Dockerfile's, node:24-bookworm-slim; where no registry
#                 is reachable, myaas-local/node:24, which scripts/setup-host.sh builds)
#   --ca FILE     PEM certificates npm must trust while building (a TLS-intercepting proxy's CA, or the
#                 host's whole bundle, /etc/ssl/certs/ca-certificates.crt). Put in the build context as
#                 npm-ca.pem for the build stage only and removed afterwards; never in the final image.
set -euo pipefail

tag=myaas:local base='' ca=''
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--tag) tag=${2:?}; shift 2 ;;
    --base) base=${2:?}; shift 2 ;;
    --ca) ca=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
args=(build -t "$tag")
[ -n "$base" ] && args+=(--build-arg "BASE=$base")

if [ -n "$ca" ]; then
  [ -s "$ca" ] || { echo "build-image: --ca $ca is not a readable, non-empty file" >&2; exit 2; }
  [ -e npm-ca.pem ] && { echo "build-image: $root/npm-ca.pem exists already; remove it or drop --ca" >&2; exit 2; }
  cp "$ca" npm-ca.pem
  trap 'rm -f "$root/npm-ca.pem"' EXIT
fi

docker "${args[@]}" .
