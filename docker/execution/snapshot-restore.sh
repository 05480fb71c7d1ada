#!/bin/sh
# snapshot-restore: fill an empty database folder of the execution client from a
# .tar.zst snapshot.
#
#   SNAPSHOT_LAYOUT    nethermind (default) or op-reth: where the archive lands (set
#                      by each image's ENV; see "Where it lands" below)
#   SNAPSHOT_URL       the .tar.zst to restore (unset: nothing to do)
#   SNAPSHOT_SHA256    its sha256; unset: read from SNAPSHOT_SHA256_URL, or else from
#                      the URL's path plus ".sha256" (a URL with a query string, such
#                      as a presigned one, needs one of the two)
#   NETWORK            the Nethermind config (op-mainnet, op-sepolia, ...): names the
#                      database folder, DATA_DIR/nethermind_db/NETWORK (Nethermind only)
#   SNAPSHOT_TARGET    where the restored folder goes instead, relative to DATA_DIR
#                      ("." = the data dir itself: an archive of a whole data dir)
#   SNAPSHOT_SUBDIR    folder inside the archive to restore (default ".": automatic,
#                      see below)
#   DATA_DIR           the client's data dir: Nethermind's --data-dir (default
#                      /data/nethermind), op-reth's --datadir (/data/op-reth)
#   SNAPSHOT_STATE_DIR download and work area (default: .snapshot beside DATA_DIR,
#                      on the same volume so the final move is a rename)
#   SNAPSHOT_SPACE_FACTOR free space needed before a download, in archive sizes
#                      (default 2.5: the archive plus its extracted content; what a
#                      partial download already holds counts as done)
#   SNAPSHOT_CONNECTIONS  aria2c connections (default 16)
#   SNAPSHOT_MAX_TRIES    aria2c tries per start, 0 = unlimited (default 0)
#
# Where it lands: Nethermind opens its database at <data-dir>/<Init.BaseDbPath>, and
# its op-* configs set BaseDbPath to nethermind_db/<network> (the _archive configs to
# nethermind_db/<network>-archive). With SNAPSHOT_SUBDIR=. the archive's top level is
# taken as the database folders, unless it holds one single folder: then that folder
# is (Nethermind's own snapshot layout; its plugin strips it, Snapshot.StripComponents
# = 1). From an archive of a data dir (nethermind_db/ at its top or in its one folder)
# the database folder is taken.
#
# op-reth opens db/, static_files/ and rocksdb/ (storage v2) directly under its
# --datadir, so with SNAPSHOT_LAYOUT=op-reth the target is DATA_DIR itself, and the
# folder restored is the one holding db/: the archive's top, or its one folder that
# does (OP's own archives hold a data dir one folder down). An archive without db/ is
# refused. The data dir counts as empty while it holds none of db/, static_files/ and
# rocksdb/: what op-reth writes beside them (reth.toml, discovery-secret,
# known-peers.json, ...) stays, and a file of the same name in the archive is
# restored while the one there is kept as NAME.before-restore.
#
# Rules: a non-empty target is never touched. The download resumes where the last
# start left it (aria2c -c, from its control file NAME.aria2), unless the server's
# ETag or Last-Modified (or size) differs from what it said when the download started
# (NAME.source): a snapshot republished at the same URL is downloaded afresh, never
# spliced onto the old one. A finished download is marked by NAME.downloaded, never
# inferred from a missing control file; an archive with neither is of unknown state
# and is downloaded again. The checksum is verified before anything is extracted; on
# a mismatch nothing is extracted and the restore refuses to run again until the
# FAILED note is removed. Extraction goes to a temporary folder that is renamed into
# place only when complete, then a marker records the restore.
#
# Stopping: SIGTERM or SIGINT (`docker stop`; in the one-shot init service this
# script is PID 1) is passed on to the running step, and the script waits for it:
# aria2c then saves its control file, so the next start resumes where this one
# stopped. It exits 143 (TERM) or 130 (INT).
set -eu

# The shared paths (docker/lib/opkit.sh: docker/lib in the checkout, /usr/local/lib/opkit
# in the image).
OPKIT_LIB_DIR="$(dirname "$0")/../lib"
[ -r "$OPKIT_LIB_DIR/opkit.sh" ] || OPKIT_LIB_DIR=/usr/local/lib/opkit
opkit_name=snapshot-restore
# shellcheck source=../lib/opkit.sh
. "$OPKIT_LIB_DIR/opkit.sh"

# step CMD [ARGS...]: run CMD as a child that a stop is passed on to; its exit status.
# A stop ends the script once the child has finished (so aria2c saves its progress).
child=
stopped=
on_stop() {
  stopped="$1"
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
}
trap 'on_stop TERM' TERM
trap 'on_stop INT' INT
stop_now() {
  say "stopped (SIG$stopped); the next start picks up where this one stopped"
  if [ "$stopped" = INT ]; then exit 130; fi
  exit 143
}
step() {
  [ -z "$stopped" ] || stop_now
  "$@" &
  child=$!
  status=0
  wait "$child" || status=$?
  while [ -n "$stopped" ] && kill -0 "$child" 2>/dev/null; do  # wait ended by the stop
    status=0
    wait "$child" || status=$?
  done
  child=
  [ -z "$stopped" ] || stop_now
  return "$status"
}

url="${SNAPSHOT_URL:-}"
layout="${SNAPSHOT_LAYOUT:-nethermind}"
data_dir="${DATA_DIR:-$OPKIT_NETHERMIND_DATA}"
data_dir="${data_dir%/}"
network="${NETWORK:-}"
state_dir="${SNAPSHOT_STATE_DIR:-$(dirname "$data_dir")/.snapshot}"
subdir="${SNAPSHOT_SUBDIR:-.}"
target_setting="${SNAPSHOT_TARGET:-}"
connections="${SNAPSHOT_CONNECTIONS:-16}"
space_factor="${SNAPSHOT_SPACE_FACTOR:-2.5}"
max_tries="${SNAPSHOT_MAX_TRIES:-0}"
done_marker="$state_dir/RESTORED"
failed_note="$state_dir/FAILED"

if [ -z "$url" ]; then
  exit 0
fi
case "$layout" in
  nethermind|op-reth) ;;
  *) say "SNAPSHOT_LAYOUT is '$layout', but the restore knows nethermind and op-reth"; exit 1 ;;
esac

# The folder Nethermind's config for $network opens as its database.
case "$network" in
  *_archive) db_name="${network%_archive}-archive" ;;
  *) db_name="$network" ;;
esac
case "$target_setting" in
  "")
    if [ "$layout" = op-reth ]; then
      target="$data_dir"  # db/, static_files/, rocksdb/ directly under --datadir
    elif [ -z "$network" ]; then
      say "NETWORK is not set, so the database folder (DATA_DIR/nethermind_db/NETWORK) is" \
          "unknown: set NETWORK, or SNAPSHOT_TARGET"
      exit 1
    else
      target="$data_dir/nethermind_db/$db_name"
    fi ;;
  /*) target="${target_setting%/}" ;;
  ..|../*|*/..|*/../*)
    say "SNAPSHOT_TARGET must be a folder inside DATA_DIR ($data_dir) or an absolute path"
    exit 1 ;;
  .|./) target="$data_dir" ;;
  *) target="$data_dir/${target_setting%/}" ;;
esac

if [ -e "$done_marker" ]; then
  say "already restored ($(head -n 1 "$done_marker")); nothing to do"
  if ! grep -q ' target=' "$done_marker"; then
    # Earlier versions extracted into the data dir itself, where Nethermind never looks.
    say "warning: that restore was made by an earlier version of this image, which" \
        "extracted into $data_dir, but Nethermind opens $target: if that holds a new" \
        "sync rather than your snapshot, stop the node and move the snapshot's folders there"
  fi
  exit 0
fi
if [ -e "$target" ] && [ ! -d "$target" ]; then
  say "$target exists and is not a directory"
  exit 1
fi
# Whether the target holds a database already (op-reth: db/, static_files/ or rocksdb/,
# unless an empty folder; Nethermind: anything at all).
holds_data() {
  if [ "$layout" = op-reth ]; then
    for part in db static_files rocksdb; do
      if [ -e "$target/$part" ] || [ -L "$target/$part" ]; then
        if [ ! -d "$target/$part" ] || [ -n "$(ls -A "$target/$part")" ]; then return 0; fi
      fi
    done
    return 1
  fi
  [ -n "$(ls -A "$target")" ]
}
if [ -d "$target" ] && holds_data; then
  if [ "$layout" = op-reth ]; then
    say "$target is not empty (it holds op-reth's db/, static_files/ or rocksdb/): leaving" \
        "it untouched and skipping the restore"
  else
    say "$target is not empty: leaving it untouched and skipping the restore"
  fi
  exit 0
fi
if [ -e "$failed_note" ]; then
  say "an earlier restore refused this snapshot: $(cat "$failed_note")"
  say "fix SNAPSHOT_URL or SNAPSHOT_SHA256, then delete $failed_note to try again"
  exit 1
fi

path="${url%%[?#]*}"
name="${path##*/}"
case "$name" in
  *.tar.zst) ;;
  *) say "SNAPSHOT_URL must name a .tar.zst archive (got '$name')"; exit 1 ;;
esac
case "$subdir" in
  /*|..|../*|*/..|*/../*) say "SNAPSHOT_SUBDIR must be a relative path inside the archive"; exit 1 ;;
esac
case "$space_factor" in
  ""|.|*[!0-9.]*|*.*.*) say "SNAPSHOT_SPACE_FACTOR must be a number such as 2.5"; exit 1 ;;
esac

# Where the checksum comes from. "$SNAPSHOT_URL.sha256" only works for a plain URL: with
# a query string (a presigned URL) it would fetch the archive itself, or be refused.
sum_url="${SNAPSHOT_SHA256_URL:-}"
if [ -z "${SNAPSHOT_SHA256:-}" ] && [ -z "$sum_url" ]; then
  case "$url" in
    *\?*)
      say "SNAPSHOT_URL has a query string (a presigned URL?), so its checksum cannot be" \
          "read from <url>.sha256: set SNAPSHOT_SHA256 to the archive's sha256, or" \
          "SNAPSHOT_SHA256_URL to where it is published. Nothing was downloaded."
      exit 1 ;;
  esac
  sum_url="$path.sha256"
fi

mkdir -p "$state_dir"
archive="$state_dir/$name"
control="$archive.aria2"         # aria2c's progress: present while a download is partial
source_file="$archive.source"    # what the server said about the archive at the start
downloaded="$archive.downloaded" # written once aria2c has finished the download

# One restore at a time per volume (the one-shot service, and the node's own start,
# both run this). The second waits, then finds the work done.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$state_dir/lock"
  if ! flock -n 9; then
    say "another restore is running on this volume; waiting for it"
    step flock 9
    exec 9>&-
    exec sh "$0"  # it is done: look again from the start
  fi
fi

fetch() { # fetch URL FILE-NAME [extra aria2c options...]: only through `step` (it execs)
  src="$1"; out="$2"; shift 2
  exec aria2c --continue=true --dir="$state_dir" --out="$out" \
    --max-connection-per-server="$connections" --split="$connections" \
    --max-tries="$max_tries" --retry-wait=5 --file-allocation=none \
    --auto-file-renaming=false --allow-overwrite=false \
    --console-log-level=warn --summary-interval=60 --download-result=hide "$@" "$src"
}

# What the server says about the archive: its size, ETag and Last-Modified.
human() { # human BYTES
  awk -v b="$1" 'BEGIN { split("bytes kB MB GB TB PB EB", u, " "); i = 1
    while (b >= 1000 && i < 7) { b /= 1000; i++ }
    if (i == 1) printf "%d bytes", b; else printf "%.1f %s", b, u[i] }'
}
header_size() { # the size response headers (stdin; the last response wins) tell
  awk '
    /^HTTP\// { status = $2; len = ""; total = "" }
    tolower($1) == "content-length:" { len = $2 }
    tolower($1) == "content-range:" { n = split($NF, part, "/"); total = part[n] }
    END {
      if (status == 206 && total ~ /^[0-9]+$/) print total
      else if (status == 200 && len ~ /^[0-9]+$/ && len > 0) print len
    }'
}
header() { # header NAME: its value in the last response of $headers
  printf '%s\n' "$headers" | awk -v want="$1" '
    /^HTTP\// { value = "" }
    { i = index($0, ":")
      if (i > 1 && tolower(substr($0, 1, i - 1)) == want) {
        value = substr($0, i + 1); sub(/^[ \t]+/, "", value); sub(/[ \t]+$/, "", value) } }
    END { print value }'
}
probe() { # sets size, etag and modified (each empty when the server does not tell)
  headers="$(curl -fsSIL --max-time 60 "$url" 2>/dev/null | tr -d '\r')" || headers=
  size="$(printf '%s\n' "$headers" | header_size)"
  if [ -z "$size" ]; then
    # Presigned S3 URLs are signed for GET and refuse HEAD: ask for the first byte and
    # read the total from Content-Range (--max-filesize stops a server that ignores it).
    headers="$(curl -sSL --max-time 60 --range 0-0 --max-filesize 1 -D - -o /dev/null \
      "$url" 2>/dev/null | tr -d '\r')" || headers=
    size="$(printf '%s\n' "$headers" | header_size)"
  fi
  etag="$(header etag)"
  modified="$(header last-modified)"
}
describe() { # the record of what the server said, as NAME.source and NAME.downloaded keep it
  printf 'etag=%s\nlast-modified=%s\nsize=%s\n' "$etag" "$modified" "$size"
}
recorded() { # recorded KEY FILE
  sed -n "s/^$1=//p" "$2" | head -n 1
}
changes() { # how the server's archive differs from the one recorded in FILE, or nothing
  was_etag="$(recorded etag "$1")"
  was_modified="$(recorded last-modified "$1")"
  was_size="$(recorded size "$1")"
  if [ -n "$was_etag" ] && [ -n "$etag" ]; then
    [ "$was_etag" = "$etag" ] || echo "ETag $was_etag, now $etag"
  elif [ -n "$was_modified" ] && [ -n "$modified" ]; then
    [ "$was_modified" = "$modified" ] || echo "Last-Modified $was_modified, now $modified"
  elif [ -n "$was_size" ] && [ -n "$size" ] && [ "$was_size" != "$size" ]; then
    echo "size $was_size, now $size bytes"
  fi
}
comparable() { # whether FILE and the server share an ETag or a Last-Modified to compare
  { [ -n "$(recorded etag "$1")" ] && [ -n "$etag" ]; } ||
    { [ -n "$(recorded last-modified "$1")" ] && [ -n "$modified" ]; }
}
discard() { rm -f "$archive" "$control" "$source_file" "$downloaded"; }

probe

# What an earlier start left: a finished download, a partial one, or nothing usable.
state=none
if [ -e "$archive" ] && [ -e "$downloaded" ]; then
  state=complete
  record="$downloaded"
elif [ -e "$archive" ] && [ -e "$control" ]; then
  state=partial
  record="$source_file"
elif [ -e "$archive" ] || [ -e "$control" ] || [ -e "$downloaded" ]; then
  # e.g. a download killed before aria2c saved its control file: which parts of the
  # file hold data is unknown, so none of it is used
  say "found $name from an earlier start without aria2c's control file or a" \
      "finished-download marker: its content is unknown, so it is downloaded again"
  discard
fi
if [ "$state" != none ]; then
  if [ ! -e "$record" ]; then
    say "no record of what the server said when the download of $name started (an" \
        "earlier version of this image): resuming it without checking for a republished" \
        "snapshot"
  elif [ -n "$(changes "$record")" ]; then
    say "the snapshot at $path was republished since the download of $name started" \
        "($(changes "$record")): downloading it again from the start"
    discard
    state=none
  elif [ "$state" = partial ] && ! comparable "$record"; then
    say "warning: the server tells neither ETag nor Last-Modified for $name, so a" \
        "snapshot republished since the download started cannot be told apart; resuming"
  fi
fi

check_space() { # room for the archive plus its extraction, before downloading anything
  if [ -z "$size" ]; then
    say "warning: the server did not tell the size of $name, so free space cannot be" \
        "checked first; downloading anyway"
    return 0
  fi
  have=0
  if [ -e "$archive" ]; then  # a partial download from an earlier start (blocks in use)
    have=$(( $(du -k "$archive" | cut -f 1) * 1024 ))
    [ "$have" -le "$size" ] || have="$size"
  fi
  free="$(df -Pk "$state_dir" 2>/dev/null | awk 'NR == 2 { printf "%.0f", $4 * 1024 }')"
  if [ -z "$free" ]; then
    say "warning: cannot read the free space of $state_dir; downloading anyway"
    return 0
  fi
  need="$(awk -v s="$size" -v f="$space_factor" -v h="$have" \
    'BEGIN { n = s * f - h; if (n < 0) n = 0; printf "%.0f", n }')"
  if [ "$need" -gt "$free" ]; then
    say "not enough free space for $name in $state_dir: download and extraction need" \
        "$(human "$need") ($need bytes: $space_factor x the $size-byte archive, less $have" \
        "bytes already downloaded), but $(human "$free") ($free bytes) is free. Free" \
        "space or move the volume to a larger disk (SNAPSHOT_SPACE_FACTOR sets the" \
        "$space_factor). Nothing was downloaded."
    exit 1
  fi
  say "$name is $(human "$size"); $(human "$need") needed, $(human "$free") free"
}
if [ "$state" != complete ]; then
  check_space
fi

expected="${SNAPSHOT_SHA256:-}"
if [ -z "$expected" ]; then
  say "reading the published checksum from ${sum_url%%[?#]*}"
  rm -f "$state_dir/$name.sha256" "$state_dir/$name.sha256.aria2"
  if ! step fetch "$sum_url" "$name.sha256" --continue=false --max-tries=3; then
    say "could not download ${sum_url%%[?#]*}; set SNAPSHOT_SHA256 to give the checksum directly"
    exit 1
  fi
  expected="$(head -n 1 "$state_dir/$name.sha256" | cut -d ' ' -f 1)"
fi
expected="$(printf '%s' "$expected" | tr 'A-F' 'a-f')"
if [ "${#expected}" -ne 64 ] || [ -n "$(printf '%s' "$expected" | tr -d '0-9a-f')" ]; then
  say "the expected checksum is not a sha256 (64 hex characters): '$expected'"
  exit 1
fi

if [ "$state" = complete ]; then
  say "found a complete download of $name from an earlier start"
else
  if [ "$state" = none ]; then
    describe > "$source_file"
  fi
  say "downloading $path into $state_dir (resumable: a restart continues it)"
  if ! step fetch "$url" "$name"; then
    say "download interrupted; the next start resumes it"
    exit 1
  fi
  if [ -e "$source_file" ]; then
    mv "$source_file" "$downloaded"
  else
    describe > "$downloaded"
  fi
fi

say "verifying sha256 of $name"
sum_into() { exec sha256sum "$1" > "$2"; }
step sum_into "$archive" "$state_dir/$name.sum"
actual="$(cut -d ' ' -f 1 "$state_dir/$name.sum")"
rm -f "$state_dir/$name.sum"
if [ "$actual" != "$expected" ]; then
  printf 'sha256 mismatch for %s: expected %s, got %s (archive deleted, nothing extracted)\n' \
    "$name" "$expected" "$actual" > "$failed_note"
  discard
  say "$(cat "$failed_note")"
  exit 1
fi

# Leftovers of an extraction that was interrupted are incomplete: start over.
rm -rf "$state_dir"/extract.*
work="$(mktemp -d "$state_dir/extract.XXXXXX")"
# zstd into tar, not tar's --use-compress-program: busybox's tar (the op-reth image's,
# and what busybox sh runs as `tar`) has no such option. Only through `step`: a stop
# ends tar, and zstd with it.
unpack() { # unpack ARCHIVE DIR
  rm -f "$2.zstd-failed"
  { zstd -dcq -- "$1" || : > "$2.zstd-failed"; } | tar -xf - -C "$2" &
  tar_pid=$!
  trap 'kill -TERM "$tar_pid" 2>/dev/null || true' TERM INT
  tar_status=0
  wait "$tar_pid" || tar_status=$?
  while kill -0 "$tar_pid" 2>/dev/null; do  # the wait was ended by a stop
    tar_status=0
    wait "$tar_pid" || tar_status=$?
  done
  if [ -e "$2.zstd-failed" ]; then
    rm -f "$2.zstd-failed"
    [ "$tar_status" -ne 0 ] || tar_status=1
  fi
  return "$tar_status"
}
say "extracting into $work"
if ! step unpack "$archive" "$work"; then
  rm -rf "$work"
  say "extraction failed; nothing was moved into $target"
  exit 1
fi

# Pick the folder to restore (see the layouts above).
give_up() { rm -rf "$work"; say "$*"; exit 1; }
listing() { # the names at the top of folder $1, on one line
  (cd "$1" && find . -mindepth 1 -maxdepth 1 | sed 's|^\./||' | sort | tr '\n' ' ' |
    sed 's/ $//')
}
src=
if [ "$subdir" != . ]; then
  src="$work/${subdir%/}"
  [ -d "$src" ] || give_up "the archive has no folder '$subdir' (SNAPSHOT_SUBDIR)"
elif [ "$layout" = op-reth ]; then
  # op-reth's data dir: the archive's top holds db/, or one folder in it does.
  if [ ! -d "$work/db" ]; then
    for db in "$work"/*/db; do
      [ -d "$db" ] || continue
      [ -z "$src" ] || give_up "the archive holds db/ in more than one folder" \
        "(${src#"$work"/}/, ${db#"$work"/}): set SNAPSHOT_SUBDIR to the data dir to restore"
      src="${db%/db}"
    done
    [ -z "$src" ] || say "the archive holds a data dir in ${src#"$work"/}/: restoring it"
  fi
  src="${src:-$work}"
elif [ -z "$target_setting" ]; then
  # An archive of a data dir, at the top or in one folder: take its database folder.
  for dbs in "$work/nethermind_db" "$work"/*/nethermind_db; do
    [ -d "$dbs" ] || continue
    if [ ! -d "$dbs/$db_name" ]; then
      give_up "the archive holds a Nethermind data dir without nethermind_db/$db_name" \
        "(it has: $(listing "$dbs")); set SNAPSHOT_SUBDIR to the database folder inside the" \
        "archive, or SNAPSHOT_TARGET=. to restore it as the whole data dir"
    fi
    say "the archive holds a data dir: restoring its ${dbs#"$work"/}/$db_name"
    src="$dbs/$db_name"
    break
  done
fi
if [ "$layout" = op-reth ] && [ ! -d "$src/db" ]; then
  give_up "the archive holds no op-reth data dir: no db/ at its top or in a folder one" \
    "down (it has: $(listing "$work")); op-reth opens db/, static_files/ and rocksdb/" \
    "directly under its data dir"
fi
if [ -z "$src" ]; then
  src="$work"
  if [ "$(find "$work" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ]; then
    only="$(find "$work" -mindepth 1 -maxdepth 1)"
    if [ -d "$only" ] && [ ! -L "$only" ]; then
      src="$only"
    fi
  fi
fi

# The target is absent or empty (checked above): rename the extracted tree onto it.
# When the target is itself a mount point it cannot be replaced: move its content.
# Beside op-reth's files (reth.toml, discovery-secret, ...) one of the same name in the
# archive wins, and the one there is kept as NAME.before-restore.
set_aside() { # set_aside FROM INTO
  for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    old="$2/${entry##*/}"
    [ -e "$old" ] || [ -L "$old" ] || continue
    if [ -d "$old" ] && [ ! -L "$old" ] && rmdir "$old" 2>/dev/null; then continue; fi
    aside="$old.before-restore"
    [ ! -e "$aside" ] || aside="$aside.$(date +%s)"
    mv "$old" "$aside"
    say "kept the ${entry##*/} that was in $2 as ${aside##*/}"
  done
}
mkdir -p "$(dirname "$target")"
if [ -d "$target" ] && ! rmdir "$target" 2>/dev/null; then
  set_aside "$src" "$target"
  find "$src" -mindepth 1 -maxdepth 1 -exec sh -c 'mv "$@" "$0"' "$target" {} +
else
  mv "$src" "$target"
fi
rm -rf "$work"
printf '%s sha256=%s target=%s restored=%s\n' "$path" "$expected" "$target" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$done_marker"
if [ "${SNAPSHOT_KEEP_ARCHIVE:-0}" != 1 ]; then
  discard
  rm -f "$state_dir/$name.sha256"
fi
say "restored $name into $target"
