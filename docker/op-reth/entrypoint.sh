#!/bin/sh
# op-reth entry point: create the shared engine-API secret, restore a snapshot into an
# empty data dir when SNAPSHOT_URL is set, then run op-reth for $NETWORK.
#
#   op-reth-entrypoint [op-reth node flags...]   the node (default)
#   op-reth-entrypoint init       jwt-init, then snapshot-restore, then exit (what
#                                 compose.yml's one-shot base-execution-init runs)
#   op-reth-entrypoint jwt-init | snapshot-restore   one chore, then exit
#   op-reth-entrypoint op-reth ARGS...   any op-reth command as the node user, e.g.
#                                 init-state --without-ovm for OP Mainnet
#
# The chain: NETWORK is op-node's name for it; op-reth's is op-mainnet -> optimism,
# op-sepolia -> optimism-sepolia, otherwise X-mainnet -> X, else the same name.
# OP_RETH_CHAIN replaces that: a chain name op-reth knows, or a genesis file (e.g. in
# /chain-config). A chain op-reth does not know is refused before anything starts.
# OP Mainnet does not start from an empty data dir (op-reth needs its pre-Bedrock
# state): without a db/ there and without SNAPSHOT_URL, it is refused the same way.
#
# The data dir is DATA_DIR (/data/op-reth), op-reth's --datadir: db/, static_files/ and
# rocksdb/ directly under it, which is where a restore (SNAPSHOT_LAYOUT=op-reth) lands.
# OP_SEQUENCER_URL sets --rollup.sequencer (op-reth has no default: without it, sent
# transactions are not forwarded to the sequencer). EXECUTION_P2P_PORT (default 30303)
# is the P2P port: RLPx on TCP and discv5 discovery on UDP, the two halves compose.yml
# publishes under that number (op-reth's discv4 is off unless --rollup.discovery.v4).
# EXTRA_OP_RETH_FLAGS adds flags (space separated); so do arguments.
#
# NETWORK is required. compose.yml also hands over whether op-node's two required
# settings are there (OPKIT_L1_RPC_URL_SET, OPKIT_L1_BEACON_URL_SET: "yes" or empty, never
# the values), so the one-shot service that `up` starts first refuses a stack that
# cannot run, in one line. Each refusal exits 64.
set -eu

bin_dir="$(dirname "$0")"
jwt_file="${JWT_FILE:-/secrets/jwt.hex}"
data_dir="${DATA_DIR:-/data/op-reth}"
data_dir="${data_dir%/}"
op_reth="${OP_RETH_BIN:-/usr/local/bin/op-reth}"
export JWT_FILE="$jwt_file" DATA_DIR="$data_dir" SNAPSHOT_LAYOUT="${SNAPSHOT_LAYOUT:-op-reth}"
# Installed without the .sh suffix in the image; from the checkout, the shared scripts
# are in docker/execution.
tool() {
  if [ -x "$bin_dir/$1" ]; then echo "$bin_dir/$1"
  elif [ -e "$bin_dir/$1.sh" ]; then echo "$bin_dir/$1.sh"
  else echo "$bin_dir/../execution/$1.sh"; fi
}
say() { echo "op-reth-entrypoint: $*" >&2; }

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
  op-reth) shift; exec "$op_reth" "$@" ;;
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
        "(base-reth-node, base-consensus) at its Azul upgrade, and op-node no longer" \
        "follows it. Pick an OP Stack chain that runs op-node, e.g. op-mainnet."
    exit 64 ;;
esac

# op-reth's name for the chain (see the top), and whether this op-reth knows it:
# dump-genesis has to build the chain spec, from a name or from a genesis file.
case "$NETWORK" in
  op-mainnet) mapped=optimism ;;
  op-sepolia) mapped=optimism-sepolia ;;
  *-mainnet) mapped="${NETWORK%-mainnet}" ;;
  *) mapped="$NETWORK" ;;
esac
chain="${OP_RETH_CHAIN:-$mapped}"
if ! "$op_reth" dump-genesis --chain "$chain" >/dev/null 2>&1; then
  if [ -n "${OP_RETH_CHAIN:-}" ]; then
    say "OP_RETH_CHAIN is '$chain', but op-reth knows no chain by that name and can read" \
        "no genesis file there: set it to a chain op-reth knows (e.g. optimism-sepolia," \
        "unichain, ink-sepolia) or to a genesis file in /chain-config, or leave it empty" \
        "to use NETWORK"
  else
    say "NETWORK is '$NETWORK' (op-reth's chain '$mapped'), but this op-reth does not" \
        "know that chain: pick one it carries (e.g. op-mainnet, op-sepolia," \
        "unichain-mainnet, unichain-sepolia, ink-sepolia, soneium-minato-sepolia), or set" \
        "OP_RETH_CHAIN to its op-reth name or to a genesis file in /chain-config"
  fi
  exit 64
fi

# OP Mainnet's history before Bedrock is not in op-reth's genesis: an empty data dir
# cannot sync (op-reth would stop at start, after its own logs). An existing db/ means
# a snapshot or an init-state import is there already.
case "$chain" in
  optimism|op) op_mainnet=yes ;;
  *) op_mainnet=no ;;
esac
no_state() {
  say "OP Mainnet needs its pre-Bedrock state, and $data_dir has no db/: set SNAPSHOT_URL" \
      "to an op-reth snapshot (https://datadirs.optimism.io), or import the state once" \
      "with op-reth init-state --without-ovm (docs/operating.md: \"Choosing the execution client\")," \
      "then start again"
  exit 64
}
if [ "$op_mainnet" = yes ] && [ ! -d "$data_dir/db" ] && [ -z "${SNAPSHOT_URL:-}" ]; then
  no_state
fi

# The one-shot service before the node: the secret, and a restore that may take hours
# (the node's health check would count them against it). The node runs both steps
# again, as no-ops, for a container started without it.
if [ "${1:-}" = init ]; then
  "$(tool jwt-init)" "$jwt_file"
  exec "$(tool snapshot-restore)"
fi

# The P2P port the host publishes is the one op-reth listens on and advertises.
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
if [ "$op_mainnet" = yes ] && [ ! -d "$data_dir/db" ]; then
  no_state
fi
mkdir -p "$data_dir"

# Only what op-reth defaults wrongly for a container (reth has removed flags between
# minor releases: the fewer, the safer). Log files off: compose keeps the logs, and
# op-reth would otherwise write up to 1 GB of them into the data volume.
set -- node --chain="$chain" --datadir="$data_dir" \
  --authrpc.addr=0.0.0.0 --authrpc.port=8551 --authrpc.jwtsecret="$jwt_file" \
  --http --http.addr=0.0.0.0 --http.port=8545 --http.api=eth,net,web3,txpool \
  --ws --ws.addr=0.0.0.0 --ws.port=8546 --ws.api=eth,net,web3,txpool \
  --metrics=0.0.0.0:9001 \
  --port="$p2p_port" --discovery.v5.port="$p2p_port" \
  --log.file.max-files=0 \
  ${OP_SEQUENCER_URL:+--rollup.sequencer="$OP_SEQUENCER_URL"} \
  "$@"
# shellcheck disable=SC2086 # EXTRA_OP_RETH_FLAGS is a list of flags on purpose
exec "$op_reth" "$@" ${EXTRA_OP_RETH_FLAGS:-}
