#!/usr/bin/env bash
# A many-host test bed on this one machine: N Docker daemons joined into one Swarm, each with its own
# network namespace (veth to a host bridge, own IP), data root, exec root, socket, btrfs pool and
# myaas volume plugin. The machine's own Docker engine is not touched.
#
#   testbed-cluster.sh up N                  bring up N nodes (node1 is the Swarm manager)
#   testbed-cluster.sh down                  remove everything `up` made; safe to run twice
#   testbed-cluster.sh status                what is up
#   testbed-cluster.sh plugin start|stop K   (re)start or stop node K's volume plugin
#   testbed-cluster.sh daemon start|stop K   start or stop node K's Docker daemon (a node lost)
#
# Node K: netns myaas-nodeK, address 10.231.0.(10+K) on bridge mclbr0 (host 10.231.0.1), socket
# /run/myaas-cluster/nodeK/docker.sock, pool /var/lib/myaas-cluster/nodeK/pool, Swarm node label
# myaas.node=nodeK, pool agent http://myaas-nodeK:5002 (token in /run/myaas-cluster/agent.token). Seen from a node's own daemon (and its containers' bind mounts) only:
# /run/myaas-cluster/local/docker.sock is its own socket and /var/lib/myaas-cluster/local a folder of
# its own pool (`local` in it), the same paths on every node as on separate machines. The nodes'
# host names (myaas-nodeK) resolve on this machine through /etc/hosts while the bed is up. Environment: MYAAS_CLUSTER_IMAGES (images every node gets, default both local
# engine images), MYAAS_CLUSTER_POOL_SIZE (8G), MYAAS_CLUSTER_PLUGINS=0 (no volume plugins),
# MYAAS_CLUSTER_ISOLATE= (empty: the plugins leave the nodes' default bridge open; default docker0).
#
# Why each daemon runs in its own mount namespace: Docker finds legacy volume plugins by socket
# under /run/docker/plugins (and specs under /etc/docker/plugins), one folder per machine; a private
# bind of a per-node folder there gives every daemon its own `myaas` plugin. The same namespace gives
# each daemon its own /etc/docker (its own key.json) and keeps its overlay mounts off the host. The
# host's / is a private mount, so what a daemon must see (its pool, its data root) is mounted first.
#
# Speed: loading the engine images into every daemon takes ~35 s and deleting their layers ~20 s per
# node here, so the images are loaded once into a seed data root on a cached btrfs image and every
# node's data root is a snapshot of it (instant both ways).
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(dirname "$(dirname "$SELF")")
RUN=${MYAAS_CLUSTER_RUN:-/run/myaas-cluster}
VAR=${MYAAS_CLUSTER_VAR:-/var/lib/myaas-cluster}
CACHE=${MYAAS_CLUSTER_CACHE:-/var/cache/myaas/cluster}
POOL_SIZE=${MYAAS_CLUSTER_POOL_SIZE:-8G}
IMAGES=${MYAAS_CLUSTER_IMAGES:-myaas-local/postgres:15 myaas-local/mariadb:10.11}
PLUGINS=${MYAAS_CLUSTER_PLUGINS:-1}
ISOLATE=${MYAAS_CLUSTER_ISOLATE-docker0}   # the bridge the plugins isolate; empty: none
DR="$VAR/dataroots"           # mount point of the cached btrfs image holding the seed and data roots
DR_IMG="$CACHE/dataroots.img"
BRIDGE=mclbr0
NET=10.231.0
ADDR_POOL=10.240.0.0/16
FW_TAG=myaas-cluster
MAX_NODES=20
AGENT_PORT=5002

say() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }

ns() { echo "myaas-node$1"; }
ip_of() { echo "$NET.$((10 + $1))"; }
sock() { echo "$RUN/node$1/docker.sock"; }
dk() { local k=$1; shift; docker -H "unix://$(sock "$k")" "$@"; }
in_ns() { local k=$1; shift; nsenter --net="/run/netns/$(ns "$k")" -- "$@"; }

# The nodes that exist now, from what is on disk or in /run/netns (so a half-made bed is found too).
# Node 0 is the short-lived daemon that fills the seed.
nodes() {
  {
    for d in "$RUN"/node*/ "$VAR"/node*/; do [ -d "$d" ] && basename "$d" | sed -n 's/^node\([0-9]\+\)$/\1/p'; done
    for n in /run/netns/myaas-node*; do [ -e "$n" ] && basename "$n" | sed -n 's/^myaas-node\([0-9]\+\)$/\1/p'; done
  } | sort -un
}

# pid_alive PIDFILE WORD: prints the pid in PIDFILE if that process runs and its command line has
# WORD, so a pid reused by another program is never signalled.
pid_alive() {
  local f=$1 word=$2 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$word" || return 1
  echo "$pid"
}

# stop_pids SECONDS PID…: TERM all, wait, then KILL what is left.
stop_pids() {
  local secs=$1 pid alive
  shift
  [ $# -gt 0 ] || return 0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 $((secs * 10))); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
}

require() {
  [ "$(id -u)" = 0 ] || die "run as root"
  for c in dockerd docker btrfs mkfs.btrfs ip nsenter unshare losetup iptables flock findmnt; do
    command -v "$c" >/dev/null || die "$c not found: run sudo scripts/setup-host.sh (docker.io, btrfs-progs, iproute2, util-linux)"
  done
}

lock() {
  mkdir -p "$(dirname "$RUN")"
  exec 9>"$RUN.lock"
  flock -w 300 9 || die "another testbed-cluster.sh holds $RUN.lock"
}

# --- nodes ----------------------------------------------------------------------

# Runs inside `unshare --mount --uts` (see start_daemon): private binds, then the daemon itself.
inner() {
  local k=$1 root=$2 d="$RUN/node$1"
  mkdir -p /run/docker/plugins /etc/docker
  mount --bind "$d/plugins" /run/docker/plugins
  mount --bind "$d/etc" /etc/docker
  # The same paths on every node, each node's own underneath, as on separate machines: $RUN/local
  # (the daemon listens there too) and $VAR/local (a folder of the node's btrfs pool). What a node's
  # containers bind from these paths is that node's, e.g. a controller's Docker socket and data dir.
  mount --bind "$d/local" "$RUN/local"
  if mountpoint -q "$VAR/node$k/pool"; then
    mkdir -p "$VAR/node$k/pool/local"
    mount --bind "$VAR/node$k/pool/local" "$VAR/local"
  fi
  hostname "myaas-node$k"
  # No registry on the bed: a Swarm task uses the image the node has instead of trying to pull it
  # first (~30 s to time out here) when its service names the image by tag.
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 exec dockerd \
    --data-root "$root" \
    --exec-root "$d/exec" \
    --pidfile "$d/docker.pid" \
    -H "unix://$d/docker.sock" \
    -H "unix://$RUN/local/docker.sock" \
    --config-file "$d/etc/daemon.json" \
    --cgroup-parent "myaas-node$k" \
    --storage-driver overlay2 \
    --log-level warn
}

make_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  # The main engine sets FORWARD's policy to DROP and bridged frames pass iptables here
  # (bridge-nf-call-iptables): let the nodes talk to each other on our bridge only.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$FW_TAG" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$FW_TAG" -j ACCEPT
}

make_netns() {
  local k=$1 n host peer
  n=$(ns "$k") host="mcl-n$k" peer="mcl-n$k-p"
  ip netns add "$n"
  ip link add "$host" type veth peer name "$peer"
  ip link set "$peer" netns "$n"
  ip link set "$host" master "$BRIDGE" up
  in_ns "$k" ip link set lo up
  in_ns "$k" ip link set "$peer" name eth0
  in_ns "$k" ip addr add "$(ip_of "$k")/24" dev eth0
  in_ns "$k" ip link set eth0 up
  in_ns "$k" ip route add default via "$NET.1"
  mkdir -p "$VAR/node$k"
  install -d -m 0700 "$RUN/node$k" "$RUN/node$k/plugins" "$RUN/node$k/etc" "$RUN/node$k/exec" "$RUN/node$k/local" "$RUN/local" "$VAR/local"
  echo '{}' >"$RUN/node$k/etc/daemon.json"
}

make_pool() {
  local k=$1 img="$VAR/pools/node$1.img"
  mkdir -p "$VAR/pools" "$VAR/node$k/pool"
  truncate -s "$POOL_SIZE" "$img"
  mkfs.btrfs -q -f "$img" >/dev/null
  mount -o loop "$img" "$VAR/node$k/pool"
  chmod 0700 "$VAR/node$k/pool"
}

# start_daemon K DATAROOT
start_daemon() {
  local k=$1 root=$2
  # setsid: the daemon outlives this script; 9>&-: it must not hold our lock.
  setsid nsenter --net="/run/netns/$(ns "$k")" -- unshare --mount --uts -- "$SELF" _inner "$k" "$root" \
    </dev/null >>"$VAR/node$k/dockerd.log" 2>&1 9>&- &
}

wait_daemon() {
  local k=$1
  for _ in $(seq 1 300); do dk "$k" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -n 20 "$VAR/node$k/dockerd.log" >&2 || true
  die "node$k's dockerd did not answer within 30 s (log above: $VAR/node$k/dockerd.log)"
}

stop_daemons() {
  local k pid pids=()
  for k in "$@"; do
    if pid=$(pid_alive "$RUN/node$k/docker.pid" dockerd); then pids+=("$pid"); fi
  done
  # All at once: a worker stopping after its manager is gone waits for it.
  stop_pids 15 "${pids[@]}"
  for k in "$@"; do rm -f "$RUN/node$k/docker.pid"; done
}

# --- the seed data root -----------------------------------------------------------

mount_dataroots() {
  mkdir -p "$CACHE" "$DR"
  mountpoint -q "$DR" && return 0
  if [ ! -f "$DR_IMG" ]; then
    truncate -s 40G "$DR_IMG"
    mkfs.btrfs -q -f "$DR_IMG" >/dev/null
  fi
  mount -o loop "$DR_IMG" "$DR"
  chmod 0700 "$DR"
}

# The seed's name says which image ids it holds; a change of image makes a new seed.
seed_name() {
  local ids="" image
  for image in $IMAGES; do
    ids+="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" ||
      die "image $image is not on the main engine: run sudo scripts/setup-host.sh"
    ids+=" $image;"
  done
  echo "seed-$(echo "$ids" | sha256sum | cut -c1-16)"
}

ensure_seed() {
  local seed=$1 image s
  [ -d "$DR/$seed" ] && return 0
  say "filling $seed with $IMAGES (once; cached in $DR_IMG)"
  for s in "$DR"/seed-*; do [ -d "$s" ] && btrfs -q subvolume delete "$s" >/dev/null; done
  btrfs -q subvolume create "$DR/$seed.tmp" >/dev/null
  make_netns 0
  start_daemon 0 "$DR/$seed.tmp"
  wait_daemon 0
  for image in $IMAGES; do docker save "$image" | dk 0 load -q >/dev/null; done
  stop_daemons 0
  down_node 0
  # Per-daemon state that must not be shared by the snapshots.
  rm -rf "$DR/$seed.tmp/network" "$DR/$seed.tmp/swarm" "$DR/$seed.tmp/engine-id"
  btrfs property set -ts "$DR/$seed.tmp" ro true
  mv "$DR/$seed.tmp" "$DR/$seed"
}

# --- swarm, plugins ---------------------------------------------------------------

make_swarm() {
  local n=$1 token k id
  dk 1 swarm init --advertise-addr "$(ip_of 1)" --listen-addr "$(ip_of 1):2377" \
    --default-addr-pool "$ADDR_POOL" >/dev/null
  token=$(dk 1 swarm join-token -q worker)
  for k in $(seq 2 "$n"); do
    dk "$k" swarm join --token "$token" --advertise-addr "$(ip_of "$k")" --listen-addr "$(ip_of "$k"):2377" \
      "$(ip_of 1):2377" >/dev/null
  done
  for k in $(seq 1 "$n"); do
    id=$(dk "$k" info -f '{{.Swarm.NodeID}}')
    dk 1 node update --label-add "myaas.node=node$k" "$id" >/dev/null
  done
}

# The nodes' host names resolve on this machine, as on a network with DNS (a standby controller names
# the active one by its node's host name). Lines tagged with $FW_TAG; `down` removes them.
HOSTS_FILE=${MYAAS_CLUSTER_HOSTS_FILE:-/etc/hosts}
hosts_add() {
  local n=$1 k
  hosts_remove
  for k in $(seq 1 "$n"); do echo "$(ip_of "$k") myaas-node$k # $FW_TAG" >>"$HOSTS_FILE"; done
}
hosts_remove() {
  [ -f "$HOSTS_FILE" ] && grep -q "# $FW_TAG\$" "$HOSTS_FILE" || return 0
  local kept
  kept=$(grep -v "# $FW_TAG\$" "$HOSTS_FILE" || true)
  # Rewritten in place (same file), not replaced: a bind mount of it elsewhere stays valid.
  printf '%s\n' "$kept" >"$HOSTS_FILE"
}

plugin_start() {
  local k=$1 d="$RUN/node$1" tsx="$REPO/node_modules/.bin/tsx"
  [ -x "$tsx" ] || die "$tsx is missing: run npm ci in $REPO"
  pid_alive "$d/plugin.pid" volume-plugin >/dev/null && return 0
  rm -f "$d/plugins/myaas.sock"
  # The plugin runs in the node's network namespace and the host's mount namespace: its socket is in
  # the node's own plugin folder (which only that daemon sees as /run/docker/plugins), its pool is
  # the filesystem the daemon sees, and its pool agent listens on the node's address, where a
  # controller elsewhere reaches it (MYAAS_SWARM_NODE_POOLS=myaas-nodeK=http://myaas-nodeK:5002).
  # It keeps the node's default bridge, where instance tasks run, from opening connections.
  MYAAS_DATA_DIR="$VAR/node$k/pool" MYAAS_STORAGE=btrfs MYAAS_VOLUME_SOCKET="$d/plugins/myaas.sock" \
    MYAAS_AGENT_LISTEN="$(ip_of "$k"):$AGENT_PORT" MYAAS_AGENT_TOKEN="$(cat "$RUN/agent.token")" MYAAS_NODE_ISOLATE="$ISOLATE" \
    setsid nsenter --net="/run/netns/$(ns "$k")" -- "$tsx" "$REPO/controller/cli.ts" volume-plugin </dev/null >>"$VAR/node$k/plugin.log" 2>&1 9>&- &
  echo $! >"$d/plugin.pid"
  for _ in $(seq 1 300); do
    [ -S "$d/plugins/myaas.sock" ] && grep -q 'pool agent listening' "$VAR/node$k/plugin.log" && return 0
    sleep 0.1
  done
  tail -n 20 "$VAR/node$k/plugin.log" >&2 || true
  die "node$k's volume plugin did not listen within 30 s (log above: $VAR/node$k/plugin.log)"
}

# The secret the nodes' pool agents and the controllers share (owner-only; gone with the bed).
agent_token() {
  [ -s "$RUN/agent.token" ] && return 0
  mkdir -p "$RUN"
  (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$RUN/agent.token")
}

plugin_stop() {
  local pid
  if pid=$(pid_alive "$RUN/node$1/plugin.pid" volume-plugin); then stop_pids 10 "$pid"; fi
  rm -f "$RUN/node$1/plugin.pid" "$RUN/node$1/plugins/myaas.sock"
}

# --- up / down ----------------------------------------------------------------------

up() {
  local n=${1:-} k seed
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_NODES" ] || die "usage: $0 up N (1-$MAX_NODES)"
  [ -z "$(nodes)" ] || die "a test bed is already up (nodes: $(nodes | tr '\n' ' ')); run $0 down first"
  local t0=$SECONDS
  # Whatever fails from here on (a command, or die) leaves nothing behind.
  trap 'say "up failed; removing what was made"; down_all' EXIT
  make_bridge
  mount_dataroots
  seed=$(seed_name)
  ensure_seed "$seed"
  for k in $(seq 1 "$n"); do
    make_netns "$k"
    make_pool "$k"
    btrfs -q subvolume snapshot "$DR/$seed" "$DR/node$k" >/dev/null
    start_daemon "$k" "$DR/node$k"
  done
  for k in $(seq 1 "$n"); do wait_daemon "$k"; done
  # Plugins before the Swarm: a daemon learns of a legacy plugin only when it first looks for one
  # (`volume ls` looks for all), and Swarm places a task with a myaas volume only on nodes whose
  # description lists the plugin; a node describes itself when it joins, later only every ~20 s.
  if [ "$PLUGINS" = 1 ]; then
    agent_token
    for k in $(seq 1 "$n"); do plugin_start "$k"; dk "$k" volume ls -q >/dev/null; done
  fi
  make_swarm "$n"
  hosts_add "$n"
  trap - EXIT
  echo "$n" >"$RUN/nodes"
  say "up: $n nodes in $((SECONDS - t0)) s"
  status
}

down_node() {
  local k=$1 n pid m dev
  n=$(ns "$k")
  plugin_stop "$k"
  # A daemon killed by stop_daemons leaves its containerd and shims; one that died before writing
  # its pidfile leaves everything: whatever still runs in the node's namespace is ours.
  if [ -e "/run/netns/$n" ]; then
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do [ -z "$(ip netns pids "$n" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns delete "$n" 2>/dev/null || true
  fi
  ip link delete "mcl-n$k" 2>/dev/null || true
  for m in $(findmnt -rn -o TARGET | grep -E "^($VAR|$RUN)/node$k(/|$)" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  local img="$VAR/pools/node$k.img"
  if [ -f "$img" ]; then
    for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev" 2>/dev/null || true; done
  fi
  if [ -d "$DR/node$k" ]; then btrfs -q subvolume delete "$DR/node$k" >/dev/null 2>&1 || rm -rf "${DR:?}/node$k"; fi
  rm -rf "${RUN:?}/node$k" "${VAR:?}/node$k" "$img"
}

down_all() {
  local k all
  all=$(nodes)
  for k in $all; do plugin_stop "$k"; done
  # shellcheck disable=SC2086
  stop_daemons $all
  for k in $all; do down_node "$k"; done
  if mountpoint -q "$DR" 2>/dev/null; then
    for m in "$DR"/*.tmp; do [ -d "$m" ] && btrfs -q subvolume delete "$m" >/dev/null 2>&1; done
    umount "$DR" 2>/dev/null || umount -l "$DR"
  fi
  hosts_remove
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$FW_TAG" -j ACCEPT 2>/dev/null; do :; done
  ip link delete "$BRIDGE" 2>/dev/null || true
  rm -rf "${RUN:?}" "${VAR:?}"
}

down() {
  local t0=$SECONDS
  down_all
  say "down in $((SECONDS - t0)) s (the seed data root stays cached in $DR_IMG)"
}

status() {
  local k any=0 d pl p
  for k in $(nodes); do
    any=1
    d=$(pid_alive "$RUN/node$k/docker.pid" dockerd >/dev/null && echo up || echo down)
    pl=$(pid_alive "$RUN/node$k/plugin.pid" volume-plugin >/dev/null && echo up || echo down)
    p=$(df -h --output=used,size "$VAR/node$k/pool" 2>/dev/null | tail -n 1 | tr -s ' ' || echo '-')
    echo "node$k  $(ip_of "$k")  dockerd $d  plugin $pl  pool $VAR/node$k/pool ($p)  DOCKER_HOST=unix://$(sock "$k")"
  done
  [ "$any" = 1 ] || { echo "no test bed is up"; return 0; }
  dk 1 node ls 2>/dev/null || true
}

node_arg() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && [ -d "$RUN/node$1" ] || die "node ${1:-?} is not up"
}

case "${1:-}" in
  up) require; lock; up "${2:-}" ;;
  down) require; lock; down ;;
  status) status ;;
  plugin)
    require; node_arg "${3:-}"
    case "${2:-}" in start) plugin_start "$3" ;; stop) plugin_stop "$3" ;; *) die "usage: $0 plugin start|stop K" ;; esac ;;
  daemon)
    require; node_arg "${3:-}"
    case "${2:-}" in
      start)
        if ! pid_alive "$RUN/node$3/docker.pid" dockerd >/dev/null; then
          start_daemon "$3" "$DR/node$3"
          wait_daemon "$3"
          # As in `up`: the daemon must know the plugin for Swarm to place myaas volumes here.
          pid_alive "$RUN/node$3/plugin.pid" volume-plugin >/dev/null && dk "$3" volume ls -q >/dev/null
        fi ;;
      stop) stop_daemons "$3" ;;
      *) die "usage: $0 daemon start|stop K" ;;
    esac ;;
  _inner) inner "$2" "$3" ;;
  *) die "usage: $0 up N | down | status | plugin start|stop K | daemon start|stop K" ;;
esac
