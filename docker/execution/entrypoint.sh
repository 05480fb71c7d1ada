#!/bin/sh
# Execution entry point: create the shared engine-API secret, restore a snapshot into
# an empty database folder when SNAPSHOT_URL is set, then run Nethermind for $NETWORK.
#
#   execution-entrypoint [nethermind flags...]   the node (default)
#   execution-entrypoint init       jwt-init, then snapshot-restore, then exit (what
#                                   compose.yml's one-shot base-execution-init runs)
#   execution-entrypoint jwt-init | snapshot-restore   one chore, then exit
#
# NETHERMIND_EXTRA_FLAGS adds flags; OP_SEQUENCER_URL sets Optimism.SequencerUrl;
# EXECUTION_P2P_PORT (default 30303) is the P2P port, TCP and UDP discovery alike.
set -eu

bin_dir="$(dirname "$0")"
jwt_file="${JWT_FILE:-/secrets/jwt.hex}"
data_dir="${DATA_DIR:-/data/nethermind}"
nethermind="${NETHERMIND_BIN:-/nethermind/nethermind}"
export JWT_FILE="$jwt_file" DATA_DIR="$data_dir"
# Installed without the .sh suffix in the image; run from the checkout, with it.
tool() { if [ -x "$bin_dir/$1" ]; then echo "$bin_dir/$1"; else echo "$bin_dir/$1.sh"; fi; }
say() { echo "execution-entrypoint: $*" >&2; }

# mount_of PATH: the mount point that holds PATH (the folder a bind mount brings in).
mount_of() {
  awk -v p="$1" '{ mp = $5; gsub(/\\040/, " ", mp); pre = (mp == "/") ? "/" : mp "/"
    if ((p == mp || index(p, pre) == 1) && length(mp) > length(best)) best = mp }
    END { print (best == "" ? p : best) }' /proc/self/mountinfo 2>/dev/null || echo "$1"
}
# need_writable PATH: PATH, or the nearest folder that holds it, is a folder this user
# can write. Host folders bind-mounted on Portainer hosts are often owned by root.
need_writable() {
  p="$1"
  while [ ! -e "$p" ] && [ "$p" != / ]; do p="$(dirname "$p")"; done
  if [ ! -d "$p" ]; then
    say "$p is not a directory, but $1 must be a folder: fix the volume or bind mount"
    exit 1
  fi
  if [ ! -w "$p" ] || [ ! -x "$p" ]; then
    say "$p is not writable by uid $(id -u) (gid $(id -g)). A bind mount owned by" \
        "another user? On the host: chown -R $(id -u):$(id -g) <the folder mounted at" \
        "$(mount_of "$p")>, then start again"
    exit 1
  fi
}

# Before anything else: every folder this container writes to.
need_writable "$data_dir"
need_writable "$(dirname "$jwt_file")"
if [ -n "${SNAPSHOT_URL:-}" ]; then
  need_writable "${SNAPSHOT_STATE_DIR:-$(dirname "$data_dir")/.snapshot}"
fi

case "${1:-}" in
  jwt-init) exec "$(tool jwt-init)" "$jwt_file" ;;
  snapshot-restore) exec "$(tool snapshot-restore)" ;;
esac

case "${NETWORK:-}" in
  "")
    say "NETWORK is not set (e.g. op-mainnet, op-sepolia)"
    exit 64 ;;
  base-mainnet|base-sepolia|base)
    say "${NETWORK} is not supported: Base moved to its own clients" \
        "(base-reth-node, base-consensus) at its Azul upgrade, and Nethermind 1.38.1+ ships" \
        "no Base config. Pick an OP Stack chain that runs op-node, e.g. op-mainnet."
    exit 64 ;;
esac

# The one-shot service before the node: the secret, and a restore that may take hours
# (the node's health check would count them against it). The node runs both steps
# again, as no-ops, for a container started without it.
if [ "${1:-}" = init ]; then
  "$(tool jwt-init)" "$jwt_file"
  exec "$(tool snapshot-restore)"
fi

# The P2P port the host publishes is the one Nethermind listens on and advertises.
p2p_port="${EXECUTION_P2P_PORT:-30303}"
case "$p2p_port" in
  ""|*[!0-9]*|??????*) p2p_port=0 ;;
esac
if [ "$p2p_port" -lt 1 ] || [ "$p2p_port" -gt 65535 ]; then
  say "EXECUTION_P2P_PORT must be a port number (1-65535), got '${EXECUTION_P2P_PORT:-}'"
  exit 64
fi

"$(tool jwt-init)" "$jwt_file"
"$(tool snapshot-restore)"
mkdir -p "$data_dir"

set -- --config "$NETWORK" --data-dir "$data_dir" \
  --JsonRpc.Enabled=true --JsonRpc.Host=0.0.0.0 --JsonRpc.Port=8545 \
  --JsonRpc.EngineHost=0.0.0.0 --JsonRpc.EnginePort=8551 \
  --JsonRpc.JwtSecretFile="$jwt_file" \
  --HealthChecks.Enabled=true \
  --Metrics.Enabled=true --Metrics.ExposePort=6060 \
  --Network.P2PPort="$p2p_port" --Network.DiscoveryPort="$p2p_port" \
  ${OP_SEQUENCER_URL:+--Optimism.SequencerUrl="$OP_SEQUENCER_URL"} \
  "$@"
# shellcheck disable=SC2086 # NETHERMIND_EXTRA_FLAGS is a list of flags on purpose
exec "$nethermind" "$@" ${NETHERMIND_EXTRA_FLAGS:-}
