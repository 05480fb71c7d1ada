#!/bin/sh
# jwt-init [FILE]: create the engine-API secret shared by the execution client and
# op-node, once. 32 random bytes as 64 hex characters, mode 0640, in the volume both
# services mount. An existing secret is kept. The secret is never printed.
#
# Safe when two containers start at once: the secret is written to a private
# temporary file and hard-linked into place, which fails if the name already exists.
set -eu

# The shared paths (docker/lib/opkit.sh: docker/lib in the checkout, /usr/local/lib/opkit
# in the image).
OPKIT_LIB_DIR="$(dirname "$0")/../lib"
[ -r "$OPKIT_LIB_DIR/opkit.sh" ] || OPKIT_LIB_DIR=/usr/local/lib/opkit
opkit_name=jwt-init
# shellcheck source=../lib/opkit.sh
. "$OPKIT_LIB_DIR/opkit.sh"

file="${1:-${JWT_FILE:-$OPKIT_JWT_FILE}}"

valid() {
  # 64 hex characters, optionally 0x-prefixed, nothing else.
  content="$(tr -d ' \n\r' < "$1")"
  content="${content#0x}"
  [ "${#content}" -eq 64 ] && [ -z "$(printf '%s' "$content" | tr -d '0-9a-fA-F')" ]
}

if [ -e "$file" ]; then
  if valid "$file"; then
    say "keeping the existing secret at $file"
    exit 0
  fi
  say "$file exists but is not 64 hex characters; remove it to have a new one generated"
  exit 1
fi

dir="$(dirname "$file")"
mkdir -p "$dir"
umask 027
tmp="$(mktemp "$dir/.jwt.XXXXXX")"
trap 'rm -f "$tmp"' EXIT INT TERM
# od and printf are builtins or local tools: the secret never reaches argv or a log.
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$tmp"
chmod 0640 "$tmp"
if ! valid "$tmp"; then
  say "could not read 32 random bytes from /dev/urandom"
  exit 1
fi
if ln "$tmp" "$file" 2>/dev/null; then
  say "created a new secret at $file"
elif valid "$file"; then
  say "keeping the secret the other service just created at $file"
else
  say "cannot create $file (is the volume writable by user $(id -u)?)"
  exit 1
fi
