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
# cannot run, in one line; so is Base (docker/lib/chain-policy). Each refusal exits 64.
# What the three entry points do alike is in docker/lib/opkit.sh.
set -eu

bin_dir="$(dirname "$0")"
# The kit's shell library and chain policy: docker/lib in the checkout, /usr/local/lib/opkit
# in the image.
OPKIT_LIB_DIR="$bin_dir/../lib"
[ -r "$OPKIT_LIB_DIR/opkit.sh" ] || OPKIT_LIB_DIR=/usr/local/lib/opkit
opkit_name=execution-entrypoint
# shellcheck source=../lib/opkit.sh
. "$OPKIT_LIB_DIR/opkit.sh"

jwt_file="${JWT_FILE:-$OPKIT_JWT_FILE}"
data_dir="${DATA_DIR:-$OPKIT_NETHERMIND_DATA}"
nethermind="${NETHERMIND_BIN:-/nethermind/nethermind}"
export JWT_FILE="$jwt_file" DATA_DIR="$data_dir"
# Installed without the .sh suffix in the image; run from the checkout, with it.
tool() { if [ -x "$bin_dir/$1" ]; then echo "$bin_dir/$1"; else echo "$bin_dir/$1.sh"; fi; }

# Before anything else: every folder this container writes to.
opkit_need_execution_folders "$data_dir" "$jwt_file"

case "${1:-}" in
  jwt-init) exec "$(tool jwt-init)" "$jwt_file" ;;
  snapshot-restore) exec "$(tool snapshot-restore)" ;;
esac

opkit_need_stack_settings
opkit_refuse_base "$NETWORK"

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
opkit_p2p_port

opkit_secret_and_restore "$(tool jwt-init)" "$(tool snapshot-restore)" "$jwt_file"
mkdir -p "$data_dir"

set -- --config "$config" --data-dir "$data_dir" \
  --JsonRpc.Enabled=true --JsonRpc.Host=0.0.0.0 --JsonRpc.Port=8545 \
  --JsonRpc.EngineHost=0.0.0.0 --JsonRpc.EnginePort="$OPKIT_ENGINE_PORT" \
  --JsonRpc.JwtSecretFile="$jwt_file" \
  --HealthChecks.Enabled=true \
  --Metrics.Enabled=true --Metrics.ExposePort=6060 \
  --Network.P2PPort="$p2p_port" --Network.DiscoveryPort="$p2p_port" \
  ${OP_SEQUENCER_URL:+--Optimism.SequencerUrl="$OP_SEQUENCER_URL"} \
  "$@"
# shellcheck disable=SC2086 # NETHERMIND_EXTRA_FLAGS is a list of flags on purpose
exec "$nethermind" "$@" ${NETHERMIND_EXTRA_FLAGS:-}
