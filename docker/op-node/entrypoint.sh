#!/bin/sh
# op-node entry point: wait for the engine-API secret the execution service writes
# into the shared volume, refuse networks op-node no longer follows, then run op-node.
# op-node reads its settings from OP_NODE_* variables (compose.yml sets them);
# EXTRA_OP_NODE_FLAGS adds flags, and arguments are passed through. (Not an OP_NODE_*
# name: op-node warns about every OP_NODE_* variable that is not one of its flags.)
#
# NETWORK (OP_NODE_NETWORK), L1_RPC_URL (OP_NODE_L1_ETH_RPC) and L1_BEACON_URL
# (OP_NODE_L1_BEACON) are required: without one, one line names it, exit 64.
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

jwt_file="${OP_NODE_L2_ENGINE_AUTH:-/secrets/jwt.hex}"
wait_seconds="${JWT_WAIT_SECONDS:-120}"
op_node="${OP_NODE_BIN:-/usr/local/bin/op-node}"
data_dir="${DATA_DIR:-/data}"  # not an OP_NODE_* name: op-node warns about unknown ones
say() { echo "op-node-entrypoint: $*" >&2; }

# Before anything else: op-node keeps its p2p key, peerstore and discovery db in the
# data dir. Host folders bind-mounted on Portainer hosts are often owned by root.
mount_of() { # the mount point that holds $1 (the folder a bind mount brings in)
  awk -v p="$1" '{ mp = $5; gsub(/\\040/, " ", mp); pre = (mp == "/") ? "/" : mp "/"
    if ((p == mp || index(p, pre) == 1) && length(mp) > length(best)) best = mp }
    END { print (best == "" ? p : best) }' /proc/self/mountinfo 2>/dev/null || echo "$1"
}
p="$data_dir"
while [ ! -e "$p" ] && [ "$p" != / ]; do p="$(dirname "$p")"; done
if [ ! -d "$p" ]; then
  say "$p is not a directory, but $data_dir must be a folder: fix the volume or bind mount"
  exit 1
fi
if [ ! -w "$p" ] || [ ! -x "$p" ]; then
  say "$p is not writable by uid $(id -u) (gid $(id -g)). A bind mount owned by" \
      "another user? On the host: chown -R $(id -u):$(id -g) <the folder mounted at" \
      "$(mount_of "$p")>, then start again"
  exit 1
fi

# missing NAME OP-NODE-NAME WHAT: the one-line refusal for a required setting nobody set.
missing() {
  say "$1 is not set ($2 is empty): set $1 in .env beside compose.yml (or in" \
      "Portainer's stack environment) to $3; see .env.example"
  exit 64
}
[ -n "${OP_NODE_NETWORK:-}" ] || missing NETWORK OP_NODE_NETWORK \
  "the OP Stack chain to follow, e.g. op-mainnet or op-sepolia"
[ -n "${OP_NODE_L1_ETH_RPC:-}" ] || missing L1_RPC_URL OP_NODE_L1_ETH_RPC \
  "your L1 (Ethereum) execution RPC endpoint"
[ -n "${OP_NODE_L1_BEACON:-}" ] || missing L1_BEACON_URL OP_NODE_L1_BEACON \
  "your L1 beacon (consensus) API endpoint"

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

case "${OP_NODE_NETWORK:-}" in
  base-mainnet|base-sepolia|base)
    echo "op-node-entrypoint: ${OP_NODE_NETWORK} is not supported: Base moved to its own" \
         "clients (base-consensus, base-reth-node) at its Azul upgrade, and op-node and" \
         "Nethermind no longer follow it. Pick an OP Stack chain that runs op-node," \
         "e.g. NETWORK=op-mainnet or NETWORK=op-sepolia." >&2
    exit 64 ;;
esac

# op-node v1.21.0 dropped these chains from its embedded registry (tasks/doctor.py's
# DROPPED_NETWORKS lists the same): from then on they need their own rollup config.
# OPKIT_OP_NODE_VERSION is the release the image was built from (set in the Dockerfile).
built="${OPKIT_OP_NODE_VERSION:-}"
built="${built#v}"
case "$built" in
  1.[0-9].*|1.1[0-9].*|1.20.*) embeds_dropped=yes ;;  # older releases still embed them
  *) embeds_dropped=no ;;
esac
# dropped-networks-begin
case "${OP_NODE_NETWORK:-}" in
  automata-mainnet|lisk-mainnet|lisk-sepolia|mint-mainnet|polynomial-mainnet|redstone-mainnet|sseed-mainnet|superseed-mainnet|xterio-eth-mainnet)
# dropped-networks-end
    if [ "$embeds_dropped" = no ] && [ -z "${OP_NODE_ROLLUP_CONFIG:-}" ]; then
      say "${OP_NODE_NETWORK} is not built into op-node ${OPKIT_OP_NODE_VERSION:-v1.21.0+}" \
          "(v1.21.0 dropped it from its registry): put the chain's rollup.json and its" \
          "Nethermind config in a folder, set CHAIN_CONFIG_DIR to it," \
          "OP_NODE_ROLLUP_CONFIG=/chain-config/rollup.json and" \
          "NETHERMIND_CONFIG=/chain-config/nethermind.json; or pin an op-node older than" \
          "v1.21.0"
      exit 64
    fi ;;
esac

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
