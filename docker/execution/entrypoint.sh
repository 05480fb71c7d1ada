#!/bin/sh
# Execution entry point: create the shared engine-API secret, restore a snapshot into
# an empty database folder when SNAPSHOT_URL is set, then run Nethermind for $NETWORK.
#
#   execution-entrypoint [nethermind flags...]   the node (default)
#   execution-entrypoint jwt-init | snapshot-restore   one chore, then exit
#
# NETHERMIND_EXTRA_FLAGS adds flags; OP_SEQUENCER_URL sets Optimism.SequencerUrl.
set -eu

bin_dir="$(dirname "$0")"
jwt_file="${JWT_FILE:-/secrets/jwt.hex}"
data_dir="${DATA_DIR:-/data/nethermind}"
nethermind="${NETHERMIND_BIN:-/nethermind/nethermind}"
export JWT_FILE="$jwt_file" DATA_DIR="$data_dir"
# Installed without the .sh suffix in the image; run from the checkout, with it.
tool() { if [ -x "$bin_dir/$1" ]; then echo "$bin_dir/$1"; else echo "$bin_dir/$1.sh"; fi; }

case "${1:-}" in
  jwt-init) exec "$(tool jwt-init)" "$jwt_file" ;;
  snapshot-restore) exec "$(tool snapshot-restore)" ;;
esac

case "${NETWORK:-}" in
  "")
    echo "execution-entrypoint: NETWORK is not set (e.g. op-mainnet, op-sepolia)" >&2
    exit 64 ;;
  base-mainnet|base-sepolia|base)
    echo "execution-entrypoint: ${NETWORK} is not supported: Base moved to its own clients" \
         "(base-reth-node, base-consensus) at its Azul upgrade, and Nethermind 1.38.1+ ships" \
         "no Base config. Pick an OP Stack chain that runs op-node, e.g. op-mainnet." >&2
    exit 64 ;;
esac

"$(tool jwt-init)" "$jwt_file"
"$(tool snapshot-restore)"
mkdir -p "$data_dir"

set -- --config "$NETWORK" --data-dir "$data_dir" \
  --JsonRpc.Enabled=true --JsonRpc.Host=0.0.0.0 --JsonRpc.Port=8545 \
  --JsonRpc.EngineHost=0.0.0.0 --JsonRpc.EnginePort=8551 \
  --JsonRpc.JwtSecretFile="$jwt_file" \
  --HealthChecks.Enabled=true \
  --Metrics.Enabled=true --Metrics.ExposePort=6060 \
  ${OP_SEQUENCER_URL:+--Optimism.SequencerUrl="$OP_SEQUENCER_URL"} \
  "$@"
# shellcheck disable=SC2086 # NETHERMIND_EXTRA_FLAGS is a list of flags on purpose
exec "$nethermind" "$@" ${NETHERMIND_EXTRA_FLAGS:-}
