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
# NETHERMIND_CONFIG, a Nethermind config file inside the container (a chain Nethermind
# ships no config for: e.g. /chain-config/nethermind.json from CHAIN_CONFIG_DIR), is
# passed as --config instead of $NETWORK.
#
# NETWORK is required. compose.yml also hands over whether op-node's two required
# settings are there (OPKIT_L1_RPC_URL_SET, OPKIT_L1_BEACON_URL_SET: "yes" or empty, never
# the values), so the one-shot service that `up` starts first refuses a stack that
# cannot run, in one line. Each refusal exits 64.
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

# missing NAME WHAT: the one-line refusal for a required setting nobody set.
missing() {
  say "$1 is not set: set it in .env beside compose.yml (or in Portainer's stack" \
      "environment) to $2; see .env.example"
  exit 64
}
[ -n "${NETWORK:-}" ] || missing NETWORK \
  "the OP Stack chain to follow, e.g. op-mainnet or op-sepolia"
if [ -n "${OPKIT_L1_RPC_URL_SET+set}" ] && [ -z "$OPKIT_L1_RPC_URL_SET" ]; then
  missing L1_RPC_URL "your L1 (Ethereum) execution RPC endpoint"
fi
if [ -n "${OPKIT_L1_BEACON_URL_SET+set}" ] && [ -z "$OPKIT_L1_BEACON_URL_SET" ]; then
  missing L1_BEACON_URL "your L1 beacon (consensus) API endpoint"
fi
unset OPKIT_L1_RPC_URL_SET OPKIT_L1_BEACON_URL_SET

case "$NETWORK" in
  base-mainnet|base-sepolia|base)
    say "${NETWORK} is not supported: Base moved to its own clients" \
        "(base-reth-node, base-consensus) at its Azul upgrade, and Nethermind 1.38.1+ ships" \
        "no Base config. Pick an OP Stack chain that runs op-node, e.g. op-mainnet."
    exit 64 ;;
esac

# Nethermind's config: the file NETHERMIND_CONFIG names, or the one it ships for NETWORK.
# (Nethermind reads NETHERMIND_CONFIG itself too: never hand it an empty one.)
config="${NETHERMIND_CONFIG:-}"
if [ -z "$config" ]; then
  unset NETHERMIND_CONFIG
  config="$NETWORK"
elif [ ! -f "$config" ] || [ ! -r "$config" ]; then
  say "NETHERMIND_CONFIG is $config, but there is no such readable file in the container:" \
      "put the chain's Nethermind config in the folder CHAIN_CONFIG_DIR names (mounted at" \
      "/chain-config) and point NETHERMIND_CONFIG at it, e.g. /chain-config/nethermind.json"
  exit 64
fi

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
# A stop (SIGTERM to this script, PID 1) is passed on to the restore, which lets its
# download save its progress; the node is then not started.
"$(tool snapshot-restore)" &
restore=$!
trap 'kill -TERM "$restore" 2>/dev/null || true' TERM INT
status=0
wait "$restore" || status=$?
while kill -0 "$restore" 2>/dev/null; do  # the wait was ended by a stop
  status=0
  wait "$restore" || status=$?
done
trap - TERM INT
[ "$status" -eq 0 ] || exit "$status"
mkdir -p "$data_dir"

set -- --config "$config" --data-dir "$data_dir" \
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
