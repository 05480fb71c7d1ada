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
# op-sepolia -> optimism-sepolia, otherwise X-mainnet -> X, else the same name (the
# chain-name and chain-suffix facts of docker/lib/chain-policy).
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
# cannot run, in one line; so is Base (docker/lib/chain-policy). Each refusal exits 64.
# What the three entry points do alike is in docker/lib/opkit.sh.
set -eu

bin_dir="$(dirname "$0")"
# The kit's shell library and chain policy: docker/lib in the checkout, /usr/local/lib/opkit
# in the image.
OPKIT_LIB_DIR="$bin_dir/../lib"
[ -r "$OPKIT_LIB_DIR/opkit.sh" ] || OPKIT_LIB_DIR=/usr/local/lib/opkit
opkit_name=op-reth-entrypoint
# shellcheck source=../lib/opkit.sh
. "$OPKIT_LIB_DIR/opkit.sh"

jwt_file="${JWT_FILE:-$OPKIT_JWT_FILE}"
data_dir="${DATA_DIR:-$OPKIT_OP_RETH_DATA}"
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

# Before anything else: every folder this container writes to.
opkit_need_execution_folders "$data_dir" "$jwt_file"

case "${1:-}" in
  jwt-init) exec "$(tool jwt-init)" "$jwt_file" ;;
  snapshot-restore) exec "$(tool snapshot-restore)" ;;
  op-reth) shift; exec "$op_reth" "$@" ;;
esac

opkit_need_stack_settings
opkit_refuse_base "$NETWORK"

# op-reth's name for the chain (see the top), and whether this op-reth knows it:
# dump-genesis has to build the chain spec, from a name or from a genesis file.
mapped="$(opkit_chain_name op-reth "$NETWORK")"
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
opkit_p2p_port

opkit_secret_and_restore "$(tool jwt-init)" "$(tool snapshot-restore)" "$jwt_file"
if [ "$op_mainnet" = yes ] && [ ! -d "$data_dir/db" ]; then
  no_state
fi
mkdir -p "$data_dir"

# Only what op-reth defaults wrongly for a container (reth has removed flags between
# minor releases: the fewer, the safer). Log files off: compose keeps the logs, and
# op-reth would otherwise write up to 1 GB of them into the data volume.
set -- node --chain="$chain" --datadir="$data_dir" \
  --authrpc.addr=0.0.0.0 --authrpc.port="$OPKIT_ENGINE_PORT" --authrpc.jwtsecret="$jwt_file" \
  --http --http.addr=0.0.0.0 --http.port=8545 --http.api=eth,net,web3,txpool \
  --ws --ws.addr=0.0.0.0 --ws.port=8546 --ws.api=eth,net,web3,txpool \
  --metrics=0.0.0.0:9001 \
  --port="$p2p_port" --discovery.v5.port="$p2p_port" \
  --log.file.max-files=0 \
  ${OP_SEQUENCER_URL:+--rollup.sequencer="$OP_SEQUENCER_URL"} \
  "$@"
# shellcheck disable=SC2086 # EXTRA_OP_RETH_FLAGS is a list of flags on purpose
exec "$op_reth" "$@" ${EXTRA_OP_RETH_FLAGS:-}
