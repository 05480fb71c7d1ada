#!/usr/bin/env bash
# A newer Docker engine for the CI lanes: Debian unstable's docker.io, containerd and
# docker-buildx, run on this bookworm machine with bookworm's runc.
#
#   .ci/engines.sh fetch                          download + extract (once per suite)
#   .ci/engines.sh start LANE [SOCKET] [DATA_ROOT]
#   .ci/engines.sh env   LANE [SOCKET]            `export` lines for a shell: docker CLI,
#                                                 DOCKER_HOST, DOCKER_CONFIG with buildx
#   .ci/engines.sh stop  LANE [SOCKET]
#
# LANE: `classic` (overlay2) or `containerd` (the containerd image store, Docker 29's
# default for fresh installs: daemon.json {"features":{"containerd-snapshotter":true}}),
# both with buildx; or `20.10`: the system's own engine (Debian bookworm's docker.io), no
# buildx, for running it beside another on a socket of its own.
# SOCKET defaults to /var/run/docker.sock (CI: one engine at a time on the default
# socket); DATA_ROOT to /var/lib/opkit-engine-LANE.
#
# Any other SOCKET runs the engine BESIDE an engine already serving the default socket
# (a developer's machine), in a network namespace of its own (opkit-LANE): its own
# bridges and iptables, reached from the host through a veth pair and NAT. A second
# dockerd in the host's namespace is no neighbour: it rewrites the first one's iptables
# chains, and its BuildKit deletes the host's docker0 when its own default bridge has
# another name (seen with 20.10.24 and 28.5.2). Run the suite inside that namespace too
# (`exec`), so the servers the tests start on 127.0.0.1 are the engine's 127.0.0.1.
#
#   .ci/engines.sh exec LANE SOCKET CMD...       CMD in the lane's namespace, with `env`

# The suite's packages are read with a SEPARATE apt configuration (its own sources list,
# Dir::State::Lists, Dir::Cache), so the system's sources stay untouched. Unstable moves:
# whatever it has is taken and its versions printed. If that no longer starts here (say,
# a dockerd that needs a newer glibc than bookworm's), set ENGINE_SUITE=trixie: Debian
# stable's docker.io 26.1.5 is the documented fallback.
#
# Settings (environment): ENGINE_SUITE (sid), ENGINE_ROOT (/opt/opkit-engines).
set -euo pipefail

SUITE="${ENGINE_SUITE:-sid}"
ROOT="${ENGINE_ROOT:-/opt/opkit-engines}"
DIST="$ROOT/$SUITE"                 # the extracted packages: $DIST/root/usr/...
PACKAGES=(docker.io docker-cli containerd docker-buildx)  # and docker-init's tini
DEFAULT_SOCKET=/var/run/docker.sock

die() { echo "engines.sh: $*" >&2; exit 1; }

apt_opts() {
    local a="$DIST/apt"
    echo "-o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache" \
         "-o Dir::Etc::SourceList=$a/sources.list -o Dir::Etc::SourceParts=$a/sources.list.d" \
         "-o Dir::Etc::Preferences=$a/preferences -o Dir::Etc::PreferencesParts=$a/preferences.d" \
         "-o APT::Sandbox::User=root"
}

fetch() {
    local a="$DIST/apt" opts
    mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d" \
        "$a/preferences.d" "$DIST/debs"
    echo "deb http://deb.debian.org/debian $SUITE main" >"$a/sources.list"
    opts="$(apt_opts)"
    # bookworm's runc, from the system's own sources: unstable's needs glibc 2.38
    command -v runc >/dev/null || apt-get install -y -qq --no-install-recommends runc >/dev/null
    # shellcheck disable=SC2086
    apt-get $opts update -qq || die "apt-get update of Debian $SUITE failed"
    rm -f "$DIST"/debs/*.deb
    local tini=tini-static   # sid's docker-init; trixie's docker.io uses tini's
    # shellcheck disable=SC2086
    apt-cache $opts show tini-static >/dev/null 2>&1 || tini=tini
    # shellcheck disable=SC2086
    (cd "$DIST/debs" && apt-get $opts download -qq "${PACKAGES[@]}" "$tini") \
        || die "apt-get download of ${PACKAGES[*]} $tini from Debian $SUITE failed"
    rm -rf "$DIST/root.new" && mkdir -p "$DIST/root.new"
    for deb in "$DIST"/debs/*.deb; do dpkg-deb -x "$deb" "$DIST/root.new"; done
    rm -rf "$DIST/root" && mv "$DIST/root.new" "$DIST/root"
    # the names dockerd looks up on PATH, in one folder
    local bin="$DIST/bin" r="$DIST/root/usr"
    rm -rf "$bin" && mkdir -p "$bin"
    for f in "$r/sbin/dockerd" "$r/sbin/docker-proxy" "$r/bin/docker" "$r/bin/containerd" \
             "$r/bin/containerd-shim-runc-v2" "$r/bin/ctr"; do
        [ -x "$f" ] || die "Debian $SUITE's packages have no $f"
        ln -s "$f" "$bin/"
    done
    if [ -x "$r/bin/tini-static" ]; then ln -s "$r/bin/tini-static" "$bin/docker-init"
    else ln -s "$r/bin/tini" "$bin/docker-init"; fi
    ln -s "$(command -v runc)" "$bin/runc"   # bookworm's
    versions
}

versions() {
    local bin="$DIST/bin"
    echo "Debian $SUITE: $("$bin/dockerd" --version); $("$bin/containerd" --version | cut -d' ' -f2-)"
    echo "  $("$bin/docker" --version); buildx $("$DIST/root/usr/libexec/docker/cli-plugins/docker-buildx" version | cut -d' ' -f2-)"
    echo "  runc (bookworm): $("$bin/runc" --version | head -n 1)"
}

# ---------------------------------------------------------------- one lane's engine
lane_dir() { echo "/run/opkit-engines/$1"; }
lane_config() { echo "$ROOT/config-$1"; }

lane_vars() {  # LANE SOCKET DATA_ROOT -> globals
    LANE="$1"
    BIN="$DIST/bin"
    case "$LANE" in
        classic) NET=199 ;;
        containerd) NET=201 ;;
        20.10) NET=197; BIN="$ROOT/system/bin" ;;
        *) die "lane '$LANE' is not one of: 20.10, classic, containerd" ;;
    esac
    SOCKET="${2:-$DEFAULT_SOCKET}"
    DATA_ROOT="${3:-/var/lib/opkit-engine-$LANE}"
    RUN="$(lane_dir "$LANE")"
    BESIDE=$([ "$SOCKET" = "$DEFAULT_SOCKET" ] && echo 0 || echo 1)
    NETNS="opkit-$LANE"
    LINK="10.$NET.255.0/30"   # the veth pair: 10.NET.255.1 host side, .2 the namespace's
}

system_bins() {  # the 20.10 lane: the system's engine, under the names dockerd looks up
    local f
    rm -rf "$BIN" && mkdir -p "$BIN"
    for f in dockerd docker containerd containerd-shim-runc-v2 runc docker-proxy docker-init; do
        local found=""   # Debian's own (docker.io), before another docker CLI on PATH
        for dir in /usr/sbin /usr/bin; do [ -x "$dir/$f" ] && { found="$dir/$f"; break; }; done
        found="${found:-$(command -v "$f" || true)}"
        [ -n "$found" ] || die "$f is missing: apt-get install docker.io"
        ln -s "$found" "$BIN/$f"
    done
}

docker_config() {  # a DOCKER_CONFIG whose cli-plugins has compose v2 (and buildx)
    local cfg plugins compose
    cfg="$(lane_config "$LANE")"
    plugins="$cfg/cli-plugins"
    mkdir -p "$plugins"
    [ -f "$cfg/config.json" ] || echo '{}' >"$cfg/config.json"
    # compose 2.40 builds only with buildx 0.17 or later: trixie's is 0.13.1, so a
    # trixie fallback takes unstable's buildx (a client plugin) where it has it
    local buildx="$ROOT/sid/root/usr/libexec/docker/cli-plugins/docker-buildx"
    [ -x "$buildx" ] || buildx="$DIST/root/usr/libexec/docker/cli-plugins/docker-buildx"
    [ "$LANE" = 20.10 ] || ln -sfn "$buildx" "$plugins/docker-buildx"
    compose="$(readlink -f "$HOME/.docker/cli-plugins/docker-compose" 2>/dev/null || true)"
    [ -x "$compose" ] || die "no compose v2 plugin at ~/.docker/cli-plugins/docker-compose"
    ln -sfn "$compose" "$plugins/docker-compose"
    echo "$cfg"
}

rules() {  # add|del: the host forwards and masquerades the lane namespace's traffic
    local op="$1" flag
    flag=$([ "$op" = add ] && echo -I || echo -D)
    if [ "$op" = add ] && iptables -t nat -C POSTROUTING -s "$LINK" -j MASQUERADE 2>/dev/null
    then return; fi
    iptables -t nat "$flag" POSTROUTING -s "$LINK" -j MASQUERADE 2>/dev/null || true
    iptables "$flag" FORWARD -s "$LINK" -j ACCEPT 2>/dev/null || true
    iptables "$flag" FORWARD -d "$LINK" -j ACCEPT 2>/dev/null || true
}

namespace() {  # the lane's network namespace, linked to the host (beside mode)
    local host="okh-$LANE" inner="okn-$LANE"
    if ! ip netns list | grep -qx "$NETNS\( .*\)\?"; then
        ip netns add "$NETNS"
        ip link add "$host" type veth peer name "$inner"
        ip link set "$inner" netns "$NETNS"
        ip addr add "10.$NET.255.1/30" dev "$host"
        ip link set "$host" up
        ip -n "$NETNS" link set lo up
        ip -n "$NETNS" addr add "10.$NET.255.2/30" dev "$inner"
        ip -n "$NETNS" link set "$inner" up
        ip -n "$NETNS" route add default via "10.$NET.255.1"
    fi
    sysctl -qw net.ipv4.ip_forward=1
    rules add
}

in_lane() {  # CMD in the lane's namespace (beside mode), else as it is
    if [ "$BESIDE" = 1 ]; then nsenter --net="/run/netns/$NETNS" "$@"; else "$@"; fi
}

start() {
    lane_vars "$@"
    if [ "$LANE" = 20.10 ]; then system_bins; else [ -x "$DIST/bin/dockerd" ] || fetch; fi
    local cfg log pid
    cfg="$(docker_config)"
    mkdir -p "$RUN/exec" "$DATA_ROOT" "$(dirname "$SOCKET")"
    # a lane's networks are the suite's, made anew each run; a store kept from another
    # network setup (say, before the namespace) breaks every endpoint
    rm -rf "$DATA_ROOT/network"
    log="$RUN/dockerd.log"
    if [ -S "$SOCKET" ] && DOCKER_HOST="unix://$SOCKET" "$BIN/docker" version >/dev/null 2>&1; then
        die "an engine already serves $SOCKET: stop it first (one engine per socket)"
    fi
    local features='{}'
    [ "$LANE" = containerd ] && features='{"containerd-snapshotter": true}'
    printf '{"features": %s}\n' "$features" >"$RUN/daemon.json"
    local args=(--config-file "$RUN/daemon.json" --host "unix://$SOCKET"
                --data-root "$DATA_ROOT" --exec-root "$RUN/exec" --pidfile "$RUN/dockerd.pid")
    [ "$BESIDE" = 0 ] || namespace
    echo "starting dockerd (lane $LANE) on $SOCKET, data-root $DATA_ROOT" \
         "$([ "$BESIDE" = 0 ] || echo "(network namespace $NETNS)")"
    # dockerd finds containerd, the shim, runc, docker-proxy and docker-init on PATH
    PATH="$BIN:$PATH" in_lane nohup "$BIN/dockerd" "${args[@]}" >"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$RUN/launcher.pid"
    for _ in $(seq 1 60); do
        DOCKER_HOST="unix://$SOCKET" "$BIN/docker" version >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if ! DOCKER_HOST="unix://$SOCKET" "$BIN/docker" version >/dev/null 2>&1; then
        tail -n 25 "$log" >&2
        die "Debian $SUITE's dockerd did not start on $SOCKET (log: $log). Unstable moves;" \
            "the documented fallback is Debian stable's engine: ENGINE_SUITE=trixie $0 start $*"
    fi
    local driver
    driver="$(DOCKER_HOST="unix://$SOCKET" "$BIN/docker" info \
        --format '{{.Driver}} {{json .DriverStatus}}')"
    DOCKER_HOST="unix://$SOCKET" DOCKER_CONFIG="$cfg" "$BIN/docker" version --format \
        'engine {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}'
    echo "storage: $driver"
    if [ "$LANE" = containerd ] && [[ "$driver" != *io.containerd.snapshotter* ]]; then
        die "the containerd lane's engine is not on the containerd image store: $driver"
    fi
    [ "$LANE" = 20.10 ] || versions
}

stop() {
    lane_vars "$@"
    local pid
    pid="$(cat "$RUN/dockerd.pid" 2>/dev/null || cat "$RUN/launcher.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$RUN/dockerd.pid" "$RUN/launcher.pid"
    if [ "$BESIDE" = 1 ]; then
        rules del
        ip netns del "$NETNS" 2>/dev/null || true   # and the veth pair with it
    fi
    echo "stopped the $LANE engine on $SOCKET"
}

env_lines() {
    lane_vars "$@"
    echo "export PATH=\"$BIN:\$PATH\""
    echo "export DOCKER_HOST=\"unix://$SOCKET\""
    echo "export DOCKER_CONFIG=\"$(docker_config)\""
}

exec_in() {  # LANE SOCKET CMD...: CMD in the lane's namespace, with its `env`
    lane_vars "$1" "$2"
    shift 2
    local cfg
    cfg="$(docker_config)"
    PATH="$BIN:$PATH" DOCKER_HOST="unix://$SOCKET" DOCKER_CONFIG="$cfg" in_lane "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    fetch) fetch ;;
    start) [ $# -ge 1 ] || die "usage: $0 start LANE [SOCKET] [DATA_ROOT]"; start "$@" ;;
    stop) [ $# -ge 1 ] || die "usage: $0 stop LANE [SOCKET]"; stop "$@" ;;
    env) [ $# -ge 1 ] || die "usage: $0 env LANE [SOCKET]"; env_lines "$@" ;;
    exec) [ $# -ge 3 ] || die "usage: $0 exec LANE SOCKET CMD..."; exec_in "$@" ;;
    versions) versions ;;
    *) die "usage: $0 fetch | start LANE [SOCKET] [DATA_ROOT] | env LANE [SOCKET] | stop LANE [SOCKET]" ;;
esac
