#!/bin/sh
# op-node entry point: wait for the engine-API secret the execution service writes
# into the shared volume, refuse networks op-node no longer follows, then run op-node.
# op-node reads its settings from OP_NODE_* variables (compose.yml sets them);
# EXTRA_OP_NODE_FLAGS adds flags, and arguments are passed through. (Not an OP_NODE_*
# name: op-node warns about every OP_NODE_* variable that is not one of its flags.)
#
# NETWORK (OP_NODE_NETWORK), L1_RPC_URL (OP_NODE_L1_ETH_RPC) and L1_BEACON_URL
# (OP_NODE_L1_BEACON) are required: without one, one line names it, exit 64. So is Base
# refused, and a chain this op-node release dropped from its registry unless a rollup
# config is given (docker/lib/chain-policy).
# OP_NODE_ROLLUP_CONFIG, a rollup config file inside the container (a chain op-node
# does not embed: e.g. /chain-config/rollup.json from CHAIN_CONFIG_DIR), replaces the
# built-in config of OP_NODE_NETWORK: op-node ignores the file whenever a network is
# set, so OP_NODE_NETWORK is then left out. Empty, it is left out itself.
#
# EXECUTION_CLIENT (nethermind, the default, or op-reth) names the client behind the
# engine API. An empty OP_NODE_L2_ENGINE_KIND is derived from it: reth for op-reth;
# geth for Nethermind, the value op-node defaulted to when Nethermind's and OP's
# instructions for op-node with Nethermind were written (optimism PR #21295 made reth
# the default in 2026; the value only decides whether a node that already has a
# finalized block re-enters EL sync). op-node accepts geth, reth or erigon. An empty
# OP_NODE_L2_FOLLOW_SOURCE (an op-supernode to follow, for interop chains) is left out.
set -eu

# The kit's shell library and chain policy: docker/lib in the checkout, /usr/local/lib/opkit
# in the image. What the three entry points do alike is there.
OPKIT_LIB_DIR="$(dirname "$0")/../lib"
[ -r "$OPKIT_LIB_DIR/opkit.sh" ] || OPKIT_LIB_DIR=/usr/local/lib/opkit
opkit_name=op-node-entrypoint
# shellcheck source=../lib/opkit.sh
. "$OPKIT_LIB_DIR/opkit.sh"

jwt_file="${OP_NODE_L2_ENGINE_AUTH:-$OPKIT_JWT_FILE}"
wait_seconds="${JWT_WAIT_SECONDS:-120}"
op_node="${OP_NODE_BIN:-/usr/local/bin/op-node}"
data_dir="${DATA_DIR:-$OPKIT_DATA}"  # not an OP_NODE_* name: op-node warns about unknown ones

# Before anything else: op-node keeps its p2p key, peerstore and discovery db in the
# data dir.
opkit_need_writable "$data_dir"

[ -n "${OP_NODE_NETWORK:-}" ] || opkit_missing NETWORK OP_NODE_NETWORK
[ -n "${OP_NODE_L1_ETH_RPC:-}" ] || opkit_missing L1_RPC_URL OP_NODE_L1_ETH_RPC
[ -n "${OP_NODE_L1_BEACON:-}" ] || opkit_missing L1_BEACON_URL OP_NODE_L1_BEACON

# The engine kind: given, or derived from the execution client (see the top).
client="${EXECUTION_CLIENT:-nethermind}"
case "$client" in
  nethermind) engine_kind=geth ;;
  op-reth) engine_kind=reth ;;
  *)
    say "EXECUTION_CLIENT is '$client', but the stack runs nethermind or op-reth: set" \
        "EXECUTION_CLIENT in .env beside compose.yml (or in Portainer's stack environment)" \
        "to one of them"
    exit 64 ;;
esac
case "${OP_NODE_L2_ENGINE_KIND:-}" in
  "") export OP_NODE_L2_ENGINE_KIND="$engine_kind" ;;
  geth|reth|erigon) ;;
  *)
    say "OP_NODE_L2_ENGINE_KIND is '$OP_NODE_L2_ENGINE_KIND', but op-node accepts geth," \
        "reth or erigon; leave it empty to have it derived from EXECUTION_CLIENT" \
        "($client: $engine_kind)"
    exit 64 ;;
esac
[ -n "${OP_NODE_L2_FOLLOW_SOURCE:-}" ] || unset OP_NODE_L2_FOLLOW_SOURCE

opkit_refuse_base "$OP_NODE_NETWORK"

# Chains op-node dropped from its embedded registry (docker/lib/chain-policy) need their
# own rollup config from the release that dropped them. OPKIT_OP_NODE_VERSION is the
# release the image was built from (set in the Dockerfile); unset, it counts as newest.
built="${OPKIT_OP_NODE_VERSION:-}"
if [ -z "${OP_NODE_ROLLUP_CONFIG:-}" ] && since="$(opkit_dropped "$OP_NODE_NETWORK" "$built")"
then
  say "${OP_NODE_NETWORK} is not built into op-node ${built:-$since+}" \
      "($since dropped it from its registry): put the chain's rollup.json and its" \
      "Nethermind config in a folder, set CHAIN_CONFIG_DIR to it," \
      "OP_NODE_ROLLUP_CONFIG=/chain-config/rollup.json and" \
      "NETHERMIND_CONFIG=/chain-config/nethermind.json; or pin an op-node older than" \
      "$since"
  exit 64
fi

# A rollup config file replaces the network's built-in one (see the top).
if [ -z "${OP_NODE_ROLLUP_CONFIG:-}" ]; then
  unset OP_NODE_ROLLUP_CONFIG
elif [ ! -f "$OP_NODE_ROLLUP_CONFIG" ] || [ ! -r "$OP_NODE_ROLLUP_CONFIG" ]; then
  say "OP_NODE_ROLLUP_CONFIG is $OP_NODE_ROLLUP_CONFIG, but there is no such readable file" \
      "in the container: put the chain's rollup config in the folder CHAIN_CONFIG_DIR" \
      "names (mounted at /chain-config) and point OP_NODE_ROLLUP_CONFIG at it, e.g." \
      "/chain-config/rollup.json"
  exit 64
else
  say "using the rollup config $OP_NODE_ROLLUP_CONFIG for $OP_NODE_NETWORK (op-node" \
      "ignores the file while a network is set, so --network is left out)"
  unset OP_NODE_NETWORK
fi

# OP_NODE_EXTRA_FLAGS is the old name (compose.yml hands it over as
# LEGACY_OP_NODE_EXTRA_FLAGS). Keep it out of op-node's environment.
extra="${EXTRA_OP_NODE_FLAGS:-}"
old="${OP_NODE_EXTRA_FLAGS:-${LEGACY_OP_NODE_EXTRA_FLAGS:-}}"
unset OP_NODE_EXTRA_FLAGS LEGACY_OP_NODE_EXTRA_FLAGS
if [ -n "$old" ] && [ -z "$extra" ]; then
  say "OP_NODE_EXTRA_FLAGS is now EXTRA_OP_NODE_FLAGS: using its value; rename it in .env"
  extra="$old"
elif [ -n "$old" ]; then
  say "OP_NODE_EXTRA_FLAGS is now EXTRA_OP_NODE_FLAGS, which is set too: ignoring the" \
      "old one; remove it from .env"
fi

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

# shellcheck disable=SC2086 # EXTRA_OP_NODE_FLAGS is a list of flags on purpose
exec "$op_node" $extra "$@"
