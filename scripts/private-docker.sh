#!/usr/bin/env bash
# A private Docker engine with its own btrfs pool, for tests that restart Docker, unmount the pool or
# "reboot" the host while other people use the machine's own engine and pools. Nothing is shared with
# the main engine: its own --data-root, --exec-root (and so its own containerd), pidfile, unix socket,
# config file, cgroup parent and bridge; no iptables rules (published ports go through docker-proxy,
# which is all 127.0.0.1 needs), so the main engine's chains are never touched.
#
#   scripts/private-docker.sh up [NAME]         pools and engine (through setup-host.sh), engine images
#   scripts/private-docker.sh env [NAME]        DOCKER_HOST, MYAAS_DATA_DIR … as shell assignments
#   scripts/private-docker.sh restart [NAME]    stop the engine (as a service stop does) and start it
#   scripts/private-docker.sh unmount [NAME]    unmount the pools (fails while something uses them)
#   scripts/private-docker.sh mount [NAME]      mount them again
#   scripts/private-docker.sh power-off [NAME]  a host losing power: every container and the engine killed,
#                                               pools unmounted, the bridge gone
#   scripts/private-docker.sh boot [NAME]       what the host does after: bridge, then setup-host.sh
#   scripts/private-docker.sh down [NAME]       removes everything up made (containers, engine, pools, files)
#
# NAME (default "private", letters, digits, dashes) lets several private engines exist side by side.
# Paths: /var/lib/myaas-private/NAME (engine root, pool images, logs), its data/ and xfs/ mount points;
# /run/myaas-private/NAME (socket, pidfile, exec root). Images are imported from setup-host.sh's cache
# copied from the main engine with docker save | load (setup-host.sh builds them there).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CMD=${1:-}
NAME=${2:-${MYAAS_PRIVATE_DOCKER:-private}}
[[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "private-docker: bad name $NAME" >&2; exit 2; }

STATE=/var/lib/myaas-private/$NAME
RUN=/run/myaas-private/$NAME
DATA_DIR=$STATE/data
XFS_DIR=$STATE/xfs
SOCK=$RUN/docker.sock
PIDFILE=$RUN/docker.pid
IMAGES=(myaas-local/postgres:15 myaas-local/mariadb:10.11)
# A bridge name of at most 15 characters and a /24 from 10.231-238.x, both derived from NAME.
SUM=$(printf '%s' "$NAME" | cksum | cut -d' ' -f1)
BRIDGE=myp$((SUM % 100000))
SUBNET_B=$((231 + SUM % 8))
SUBNET_C=$((SUM / 8 % 250 + 1))
BIP=10.$SUBNET_B.$SUBNET_C.1/24
# The controller's isolated network (MYAAS_DOCKER_NETWORK, `myaas`) is made here, on a /24 of
# 10.248-255.x also derived from NAME, with the isolation the controller checks for. Left to the
# engine, every private engine in the host's namespace took Docker's first default pool (172.17-31.x)
# for it, and two engines' bridges on one subnet sent each other's traffic astray (seen: a soak's
# probes answered by a chaos run's servers). Not through default-address-pools in daemon.json: with
# that set, a private engine's restart deleted the machine's docker0.
ISOLATED_SUBNET=10.$((248 + SUM % 8)).$((SUM / 8 % 250 + 1)).0/24

say() { printf '[private-docker %s %s] %s\n' "$NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[private-docker %s] error: %s\n' "$NAME" "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

# Never the machine's own pools: other people's tests run on them.
for d in "$DATA_DIR" "$XFS_DIR"; do
  case "$(realpath -m "$d")" in /var/lib/myaas|/var/lib/myaas-xfs) die "refusing to manage $d" ;; esac
done

export DOCKER_HOST=unix://$SOCK
DOCKERD_ARGS="-H unix://$SOCK --data-root $STATE/docker --exec-root $RUN/exec --pidfile $PIDFILE \
--config-file $STATE/daemon.json --bridge $BRIDGE --iptables=false --ip-masq=false --ip-forward=false \
--cgroup-parent /myaas-private-$NAME"

engine_pid() { if [ -s "$PIDFILE" ]; then cat "$PIDFILE"; fi; }
engine_up() { docker info >/dev/null 2>&1; }

bridge_up() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  # A subnet someone else routes already would send our traffic elsewhere.
  if ip route show | grep -q "^10\.$SUBNET_B\.$SUBNET_C\.0/24"; then die "10.$SUBNET_B.$SUBNET_C.0/24 is in use; pick another NAME"; fi
  ip link add name "$BRIDGE" type bridge
  ip addr add "$BIP" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}
bridge_down() { ip link del "$BRIDGE" 2>/dev/null || true; }

# setup-host.sh does what a host does at boot: mounts the pools (from image files it creates the first
# time) and starts the engine when none answers at DOCKER_HOST, with our arguments.
setup_host() {
  mkdir -p "$STATE" "$RUN"
  [ -f "$STATE/daemon.json" ] || echo '{}' >"$STATE/daemon.json"
  bridge_up
  MYAAS_DATA_DIR=$DATA_DIR MYAAS_XFS_DIR=$XFS_DIR MYAAS_POOL_IMAGES=$STATE/pools MYAAS_POOL_SIZE=${MYAAS_POOL_SIZE:-20G} \
    MYAAS_DOCKERD_ARGS=$DOCKERD_ARGS MYAAS_DOCKERD_LOG=$STATE/dockerd.log MYAAS_SKIP_IMAGES=1 \
    bash "$HERE/setup-host.sh" >&2
}

load_images() {
  for image in "${IMAGES[@]}"; do
    if docker image inspect "$image" >/dev/null 2>&1; then continue; fi
    say "loading $image"
    # Straight from the main engine (same image id); setup-host.sh's cached rootfs otherwise.
    if DOCKER_HOST='' docker image inspect "$image" >/dev/null 2>&1; then
      DOCKER_HOST='' docker save "$image" | docker load >/dev/null
    else
      die "image $image is on neither engine: run sudo scripts/setup-host.sh first"
    fi
  done
}

stop_engine() {
  local pid
  pid=$(engine_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "dockerd $pid did not stop within 60 s"
}

# Every process of the engine's world: containers' processes (in its cgroup parent), shims, containerd, dockerd.
kill_all() {
  local pids
  pids=$(cat /sys/fs/cgroup/*/myaas-private-"$NAME"/*/cgroup.procs /sys/fs/cgroup/*/myaas-private-"$NAME"/*/tasks 2>/dev/null | sort -u || true)
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  pids=$(pgrep -f -- "$RUN/exec" || true)
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  local pid
  pid=$(engine_pid)
  # Its children: containerd and the docker-proxy processes that hold the published ports.
  [ -n "$pid" ] && { pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; }
  for _ in $(seq 1 100); do
    { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || pgrep -f -- "$RUN/exec" >/dev/null || break
    sleep 0.1
  done
}

unmount_pools() {
  local d
  for d in "$DATA_DIR" "$XFS_DIR"; do
    if mountpoint -q "$d"; then umount "$d" || die "cannot unmount $d (in use?)"; fi
  done
}

remove_cgroups() {
  local g
  for g in /sys/fs/cgroup/*/myaas-private-"$NAME"; do
    [ -d "$g" ] || continue
    find "$g" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
    rmdir "$g" 2>/dev/null || true
  done
}

case "$CMD" in
  up)
    setup_host
    load_images
    if ! docker network inspect myaas >/dev/null 2>&1; then
      docker network create --driver bridge --subnet "$ISOLATED_SUBNET" --label myaas.network=isolated \
        -o com.docker.network.bridge.enable_icc=false -o com.docker.network.bridge.enable_ip_masquerade=false myaas >/dev/null
    fi
    say "ready: DOCKER_HOST=$DOCKER_HOST MYAAS_DATA_DIR=$DATA_DIR"
    ;;
  env)
    printf 'DOCKER_HOST=%s\nMYAAS_DATA_DIR=%s\nMYAAS_XFS_DIR=%s\nPRIVATE_DOCKER_STATE=%s\n' "$DOCKER_HOST" "$DATA_DIR" "$XFS_DIR" "$STATE"
    ;;
  restart)
    stop_engine
    setup_host
    ;;
  stop-engine) stop_engine ;;
  unmount) unmount_pools ;;
  mount) setup_host ;;
  power-off)
    kill_all
    # What the kernel would leave behind of a dead engine: its mounts under the engine's roots.
    for m in $(findmnt -rno TARGET | grep -E "^($RUN|$STATE/docker)(/|$)" | sort -r); do umount -l "$m" 2>/dev/null || true; done
    unmount_pools
    bridge_down
    rm -f "$SOCK" "$PIDFILE"
    ;;
  boot) setup_host ;;
  down)
    if engine_up; then
      ids=$(docker ps -aq || true)
      # shellcheck disable=SC2086
      if [ -n "$ids" ]; then docker rm -f $ids >/dev/null 2>&1 || true; fi
    fi
    stop_engine || true
    kill_all
    for m in $(findmnt -rno TARGET | grep -E "^($RUN|$STATE)(/|$)" | sort -r); do
      case "$m" in "$DATA_DIR"|"$XFS_DIR") ;; *) umount -l "$m" 2>/dev/null || true ;; esac
    done
    unmount_pools
    bridge_down
    remove_cgroups
    rm -rf "$RUN" "$STATE"
    rmdir /run/myaas-private /var/lib/myaas-private 2>/dev/null || true
    say "removed"
    ;;
  *)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
