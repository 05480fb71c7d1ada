#!/bin/sh
# The op-node builder's bundle step, run from the monorepo root after the clone.
#
# op-node links op-core/superchain, which embeds a generated, gitignored
# superchain-configs.zip, from v1.19.1 on; the root justfile's `build-superchain-go`
# recipe, which exists from the same release, generates it. What decides is the
# cloned tag's own justfile, never the presence of a file: v1.18.0 ... v1.19.1-rc.1
# already carry the zip's .sha256 but have no such recipe, and op-node does not link
# the bundle there.
#
#   no root justfile                 -> no recipe: nothing to build
#   just lists the recipes           -> run the recipe if it is one of them
#   just cannot read the justfile    -> fail, naming the just version: the answer
#                                       is unknown, not "no recipe"
#
# `--list` is the read check, not `--summary`: just < 1.44 lists the recipes of a
# justfile with `[script]` recipes in `--summary` without a word, and refuses the
# same file everywhere else unless JUST_UNSTABLE is set (the builder sets it).
set -eu

recipe=build-superchain-go
say() { echo "superchain bundle: $*"; }

justfile=
for name in justfile Justfile JUSTFILE .justfile; do
  if [ -f "$name" ]; then
    justfile=$name
    break
  fi
done
if [ -z "$justfile" ]; then
  say "no root justfile at this tag, so no $recipe recipe: nothing to build"
  exit 0
fi

if ! command -v just >/dev/null 2>&1; then
  say "this tag has a $justfile but just is not installed, so whether it has the $recipe recipe is unknown" >&2
  exit 1
fi
version="$(just --version 2>/dev/null || true)"
version="${version:-just (version unknown)}"

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
# An explicit --justfile: just must not go looking in parent directories.
if ! just --justfile "$justfile" --list >/dev/null 2>"$errors"; then
  reason="$(grep -m 1 . "$errors" || true)"
  say "$version cannot read this tag's $justfile, so whether it has the $recipe recipe is unknown (JUST_UNSTABLE=${JUST_UNSTABLE:-unset}; upstream's [script] recipes need just >= 1.44, or an older just with JUST_UNSTABLE=1): ${reason:-just gave no reason}" >&2
  exit 1
fi

# The file reads, so a failing --show can only mean the recipe is not there.
if ! just --justfile "$justfile" --show "$recipe" >/dev/null 2>&1; then
  say "this tag's $justfile has no $recipe recipe ($version read it): nothing to build"
  exit 0
fi

say "$version runs $recipe"
just --justfile "$justfile" "$recipe"
