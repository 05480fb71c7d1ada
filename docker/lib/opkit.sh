# shellcheck shell=sh
# What the three entry points do alike, sourced by each (never run): the images' shared
# paths and ports, the checks of the folders they write and of the required settings,
# and the chain verdicts, read from the chain policy beside this file (chain-policy:
# its header states the rules; tasks/_chain_policy.py reads the same file). POSIX sh:
# busybox ash (op-node on Alpine, op-reth on Wolfi), dash (Nethermind's Ubuntu), bash.
#
# The images carry both files in /usr/local/lib/opkit; from the checkout they are in
# docker/lib. Before sourcing, the entry point sets OPKIT_LIB_DIR (this folder) and
# opkit_name (the prefix of its messages). Every refusal is one line on stderr: exit 64
# for a setting to fix, exit 1 for a folder or a file the container cannot use. Names
# starting with _opkit_ are this file's scratch variables.

# The images' layout, as compose.yml mounts and wires it.
OPKIT_JWT_FILE=/secrets/jwt.hex   # the engine-API secret, in the volume both services mount
OPKIT_ENGINE_PORT=8551            # the engine API (authenticated RPC) of the execution client
OPKIT_DATA=/data                  # op-node's data dir; the execution clients' below it:
OPKIT_NETHERMIND_DATA=/data/nethermind
OPKIT_OP_RETH_DATA=/data/op-reth
OPKIT_POLICY="$OPKIT_LIB_DIR/chain-policy"

say() { echo "${opkit_name:-opkit}: $*" >&2; }

if [ ! -r "$OPKIT_POLICY" ]; then
  say "cannot read the chain policy at $OPKIT_POLICY: the image is incomplete (rebuild it)"
  exit 1
fi

# ------------------------------------------------------------ folders it writes to
# opkit_mount_of PATH: the mount point that holds PATH (the folder a bind mount brings in).
opkit_mount_of() {
  awk -v p="$1" '{ mp = $5; gsub(/\\040/, " ", mp); pre = (mp == "/") ? "/" : mp "/"
    if ((p == mp || index(p, pre) == 1) && length(mp) > length(best)) best = mp }
    END { print (best == "" ? p : best) }' /proc/self/mountinfo 2>/dev/null || echo "$1"
}

# opkit_need_writable PATH: PATH, or the nearest folder that holds it, is a folder this
# user can write. Host folders bind-mounted on Portainer hosts are often owned by root.
opkit_need_writable() {
  _opkit_p="$1"
  while [ ! -e "$_opkit_p" ] && [ "$_opkit_p" != / ]; do _opkit_p="$(dirname "$_opkit_p")"; done
  if [ ! -d "$_opkit_p" ]; then
    say "$_opkit_p is not a directory, but $1 must be a folder: fix the volume or bind mount"
    exit 1
  fi
  if [ ! -w "$_opkit_p" ] || [ ! -x "$_opkit_p" ]; then
    say "$_opkit_p is not writable by uid $(id -u) (gid $(id -g)). A bind mount owned by" \
        "another user? On the host: chown -R $(id -u):$(id -g) <the folder mounted at" \
        "$(opkit_mount_of "$_opkit_p")>, then start again"
    exit 1
  fi
}

# opkit_need_execution_folders DATA_DIR JWT_FILE: every folder an execution client's
# container writes to (the data dir, the secret's, the restore's state when SNAPSHOT_URL
# is set), before it does anything.
opkit_need_execution_folders() {
  opkit_need_writable "$1"
  opkit_need_writable "$(dirname "$2")"
  if [ -n "${SNAPSHOT_URL:-}" ]; then
    opkit_need_writable "${SNAPSHOT_STATE_DIR:-$(dirname "$1")/.snapshot}"
  fi
}

# ---------------------------------------------------------------- required settings
# opkit_missing SETTING [VARIABLE]: the one-line refusal for a required setting nobody
# set (VARIABLE: the name the container got it under, when that differs).
opkit_missing() {
  case "$1" in
    NETWORK) _opkit_what="the OP Stack chain to follow, e.g. op-mainnet or op-sepolia" ;;
    L1_RPC_URL) _opkit_what="your L1 (Ethereum) execution RPC endpoint" ;;
    L1_BEACON_URL) _opkit_what="your L1 beacon (consensus) API endpoint" ;;
    *) _opkit_what="a value" ;;
  esac
  if [ -n "${2:-}" ]; then
    say "$1 is not set ($2 is empty): set $1 in .env beside compose.yml (or in" \
        "Portainer's stack environment) to $_opkit_what; see .env.example"
  else
    say "$1 is not set: set it in .env beside compose.yml (or in Portainer's stack" \
        "environment) to $_opkit_what; see .env.example"
  fi
  exit 64
}

# opkit_need_stack_settings: an execution container's check. NETWORK is required;
# compose.yml also hands over whether op-node's two required settings are there
# (OPKIT_L1_RPC_URL_SET, OPKIT_L1_BEACON_URL_SET: "yes" or empty, never the values), so
# the one-shot service that `up` starts first refuses a stack op-node could not run.
opkit_need_stack_settings() {
  [ -n "${NETWORK:-}" ] || opkit_missing NETWORK
  if [ -n "${OPKIT_L1_RPC_URL_SET+set}" ] && [ -z "$OPKIT_L1_RPC_URL_SET" ]; then
    opkit_missing L1_RPC_URL
  fi
  if [ -n "${OPKIT_L1_BEACON_URL_SET+set}" ] && [ -z "$OPKIT_L1_BEACON_URL_SET" ]; then
    opkit_missing L1_BEACON_URL
  fi
  unset OPKIT_L1_RPC_URL_SET OPKIT_L1_BEACON_URL_SET
}

# opkit_p2p_port: sets p2p_port to EXECUTION_P2P_PORT (default 30303), the port the host
# publishes and the client listens on and advertises; a one-line refusal if no port.
opkit_p2p_port() {
  p2p_port="${EXECUTION_P2P_PORT:-30303}"
  case "$p2p_port" in
    ""|*[!0-9]*|??????*) p2p_port=0 ;;
  esac
  if [ "$p2p_port" -lt 1 ] || [ "$p2p_port" -gt 65535 ]; then
    say "EXECUTION_P2P_PORT must be a port number (1-65535), got '${EXECUTION_P2P_PORT:-}'"
    exit 64
  fi
}

# opkit_secret_and_restore JWT_INIT RESTORE JWT_FILE: the secret, then the snapshot
# restore. A stop (SIGTERM to the entry point, PID 1) is passed on to the restore, which
# lets its download save its progress; the entry point then exits with its status.
opkit_secret_and_restore() {
  "$1" "$3"
  "$2" &
  _opkit_restore=$!
  trap 'kill -TERM "$_opkit_restore" 2>/dev/null || true' TERM INT
  _opkit_status=0
  wait "$_opkit_restore" || _opkit_status=$?
  while kill -0 "$_opkit_restore" 2>/dev/null; do  # the wait was ended by a stop
    _opkit_status=0
    wait "$_opkit_restore" || _opkit_status=$?
  done
  trap - TERM INT
  [ "$_opkit_status" -eq 0 ] || exit "$_opkit_status"
}

# ------------------------------------------------------------------ chain verdicts
# _opkit_lower TEXT: TEXT with the ASCII letters lower-cased (all of it: a trailing
# newline too).
_opkit_lower() {
  _opkit_low="$(printf '%s.' "$1" | tr 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' 'abcdefghijklmnopqrstuvwxyz')"
  printf '%s' "${_opkit_low%.}"
}

# opkit_is_base NAME: status 0 when NAME is Base (a word of it is a base-word).
opkit_is_base() {
  _opkit_words="$(_opkit_lower "$1" | tr -c 'a-z' ' ')"
  while read -r _opkit_kind _opkit_a _opkit_rest || [ -n "$_opkit_kind" ]; do
    [ "$_opkit_kind" = base-word ] || continue
    for _opkit_word in $_opkit_words; do
      [ "$_opkit_word" != "$_opkit_a" ] || return 0
    done
  done < "$OPKIT_POLICY"
  return 1
}

# _opkit_numbers VERSION: prints "X Y Z" of [v|V]X.Y.Z[-anything]; status 1 if no such.
_opkit_numbers() {
  _opkit_v="$1"
  case "$_opkit_v" in [vV]*) _opkit_v="${_opkit_v#?}" ;; esac
  _opkit_v="${_opkit_v%%-*}"
  case "$_opkit_v" in *.*.*) ;; *) return 1 ;; esac
  _opkit_x="${_opkit_v%%.*}"
  _opkit_v="${_opkit_v#*.}"
  _opkit_y="${_opkit_v%%.*}"
  _opkit_z="${_opkit_v#*.}"
  for _opkit_n in "$_opkit_x" "$_opkit_y" "$_opkit_z"; do
    case "$_opkit_n" in ""|*[!0-9]*|??????????*) return 1 ;; esac
  done
  echo "$_opkit_x $_opkit_y $_opkit_z"
}

# _opkit_older VERSION RELEASE: status 0 when VERSION is known and older than RELEASE.
_opkit_older() {
  _opkit_have="$(_opkit_numbers "$1")" || return 1
  _opkit_cut="$(_opkit_numbers "$2")" || return 1
  # shellcheck disable=SC2086 # six numbers, split on purpose
  set -- $_opkit_have $_opkit_cut
  if [ "$1" -ne "$4" ]; then
    if [ "$1" -lt "$4" ]; then return 0; else return 1; fi
  fi
  if [ "$2" -ne "$5" ]; then
    if [ "$2" -lt "$5" ]; then return 0; else return 1; fi
  fi
  if [ "$3" -lt "$6" ]; then return 0; else return 1; fi
}

# opkit_dropped NAME VERSION: when op-node VERSION (unset or unknown: taken as the
# newest) no longer embeds NAME, prints the release that dropped it, status 0; else 1.
opkit_dropped() {
  _opkit_name="$(_opkit_lower "$1")"
  while read -r _opkit_kind _opkit_a _opkit_b _opkit_rest || [ -n "$_opkit_kind" ]; do
    [ "$_opkit_kind" = dropped ] && [ "$_opkit_b" = "$_opkit_name" ] || continue
    ! _opkit_older "$2" "$_opkit_a" || return 1
    printf '%s\n' "$_opkit_a"
    return 0
  done < "$OPKIT_POLICY"
  return 1
}

# opkit_chain_name CLIENT NETWORK: prints NETWORK (op-node's name) as CLIENT names it.
opkit_chain_name() {
  while read -r _opkit_kind _opkit_a _opkit_b _opkit_c _opkit_rest || [ -n "$_opkit_kind" ]; do
    if [ "$_opkit_kind" = chain-name ] && [ "$_opkit_a" = "$1" ] && [ "$_opkit_b" = "$2" ]; then
      printf '%s\n' "$_opkit_c"
      return 0
    fi
  done < "$OPKIT_POLICY"
  while read -r _opkit_kind _opkit_a _opkit_b _opkit_rest || [ -n "$_opkit_kind" ]; do
    [ "$_opkit_kind" = chain-suffix ] && [ "$_opkit_a" = "$1" ] || continue
    case "$2" in
      *"$_opkit_b")
        if [ "${#2}" -gt "${#_opkit_b}" ]; then
          printf '%s\n' "${2%"$_opkit_b"}"
          return 0
        fi ;;
    esac
  done < "$OPKIT_POLICY"
  printf '%s\n' "$2"
}

# opkit_refuse_base NAME: the one-line refusal (exit 64) when NAME is Base.
opkit_refuse_base() {
  opkit_is_base "$1" || return 0
  say "$1 is not supported: Base moved to its own clients (base-reth-node, base-consensus)" \
      "at its Azul upgrade, and op-node and Nethermind no longer follow it (Nethermind" \
      "1.38.1 and newer ship no Base config). Pick an OP Stack chain that runs op-node," \
      "e.g. NETWORK=op-mainnet or NETWORK=op-sepolia."
  exit 64
}
