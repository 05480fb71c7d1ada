#!/bin/sh
# op-node entry point: wait for the engine-API secret the execution service writes
# into the shared volume, refuse networks op-node no longer follows, then run op-node.
# op-node reads its settings from OP_NODE_* variables (compose.yml sets them);
# OP_NODE_EXTRA_FLAGS adds flags, and arguments are passed through.
set -eu

jwt_file="${OP_NODE_L2_ENGINE_AUTH:-/secrets/jwt.hex}"
wait_seconds="${JWT_WAIT_SECONDS:-120}"
op_node="${OP_NODE_BIN:-/usr/local/bin/op-node}"

case "${OP_NODE_NETWORK:-}" in
  base-mainnet|base-sepolia|base)
    echo "op-node-entrypoint: ${OP_NODE_NETWORK} is not supported: Base moved to its own" \
         "clients (base-consensus, base-reth-node) at its Azul upgrade, and op-node and" \
         "Nethermind no longer follow it. Pick an OP Stack chain that runs op-node," \
         "e.g. NETWORK=op-mainnet or NETWORK=op-sepolia." >&2
    exit 64 ;;
esac

# Chains op-node v1.21.0 dropped from its embedded registry: they need their own rollup
# config from then on (tasks/doctor.py's DROPPED_NETWORKS lists the same names).
# dropped-networks-begin
case "${OP_NODE_NETWORK:-}" in
  automata-mainnet|lisk-mainnet|lisk-sepolia|mint-mainnet|polynomial-mainnet|\
  redstone-mainnet|sseed-mainnet|superseed-mainnet|xterio-eth-mainnet)
    if [ -z "${OP_NODE_ROLLUP_CONFIG:-}" ]; then
      echo "op-node-entrypoint: op-node v1.21.0 and newer no longer embed ${OP_NODE_NETWORK}'s" \
           "config; give it the chain's rollup config (OP_NODE_ROLLUP_CONFIG) instead of" \
           "OP_NODE_NETWORK, or pin an older op-node." >&2
      exit 64
    fi ;;
esac
# dropped-networks-end

waited=0
while [ ! -s "$jwt_file" ]; do
  if [ "$waited" -ge "$wait_seconds" ]; then
    echo "op-node-entrypoint: no engine-API secret at $jwt_file after ${wait_seconds}s;" \
         "base-execution writes it on start: is the jwt volume mounted in both services?" >&2
    exit 1
  fi
  [ "$waited" -eq 0 ] && echo "op-node-entrypoint: waiting for $jwt_file"
  sleep 2
  waited=$((waited + 2))
done
if [ ! -r "$jwt_file" ]; then
  echo "op-node-entrypoint: $jwt_file exists but user $(id -u) cannot read it" >&2
  exit 1
fi

# shellcheck disable=SC2086 # OP_NODE_EXTRA_FLAGS is a list of flags on purpose
exec "$op_node" ${OP_NODE_EXTRA_FLAGS:-} "$@"
