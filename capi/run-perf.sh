#!/usr/bin/env bash
# libzmq's perf tools (vendored perf/*.cpp) built twice — against libzmq itself (the static
# library the zmq-sys crate builds, release profile) and against liboxmq_zmq.so (release) —
# and run side by side. Prints msg/s for throughput (tcp and inproc), µs for latency, and
# the ratio oxmq / libzmq (for latency, libzmq / oxmq: above 1 means oxmq is faster).
#
# Usage: capi/run-perf.sh            Environment: VENDOR, CARGO_TARGET_DIR, COUNT_64,
#        COUNT_1K, ROUNDTRIPS, PORT
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENDOR=${VENDOR:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zeromq-src-0.2.6+4.3.4/vendor 2>/dev/null | head -1)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/libzmq-perf
CXX=${CXX:-c++}
COUNT_64=${COUNT_64:-2000000}
COUNT_1K=${COUNT_1K:-500000}
ROUNDTRIPS=${ROUNDTRIPS:-20000}
PORT=${PORT:-55655}

[ -d "$VENDOR/perf" ] || { echo "libzmq sources not found (set VENDOR)"; exit 2; }
(cd "$ROOT" && cargo build -q --release -p oxmq-capi --lib && cargo build -q --release -p zmq-sys) || exit 2
LIBZMQ_A=$(ls -t "$TARGET"/release/build/zmq-sys-*/out/lib/libzmq.a 2>/dev/null | head -1)
[ -f "$LIBZMQ_A" ] || { echo "no release libzmq.a from zmq-sys"; exit 2; }

mkdir -p "$OUT/libzmq" "$OUT/oxmq"
cat > "$OUT/platform.hpp" <<'H'
#define ZMQ_HAVE_LINUX 1
H
for tool in local_thr remote_thr local_lat remote_lat inproc_thr inproc_lat; do
    src=$VENDOR/perf/$tool.cpp
    flags=(-O2 -w -I"$OUT" -I"$VENDOR/include" "$src")
    "$CXX" "${flags[@]}" "$LIBZMQ_A" -lpthread -o "$OUT/libzmq/$tool" || exit 2
    "$CXX" "${flags[@]}" -L"$TARGET/release" -loxmq_zmq -Wl,-rpath,"$TARGET/release" -lpthread \
        -o "$OUT/oxmq/$tool" || exit 2
done

# One tcp throughput run: prints msg/s.
thr() {
    local lib=$1 size=$2 count=$3 ep="tcp://127.0.0.1:$PORT"
    PORT=$((PORT + 1))
    "$OUT/$lib/local_thr" "$ep" "$size" "$count" > "$OUT/$lib.local.out" 2>&1 &
    local pid=$!
    sleep 0.3
    "$OUT/$lib/remote_thr" "$ep" "$size" "$count" > /dev/null 2>&1
    wait $pid
    awk '/mean throughput:/ && /msg/ {print $3}' "$OUT/$lib.local.out"
}

# One tcp latency run: prints the average one-way latency in µs.
lat() {
    local lib=$1 size=$2 ep="tcp://127.0.0.1:$PORT"
    PORT=$((PORT + 1))
    "$OUT/$lib/local_lat" "$ep" "$size" "$ROUNDTRIPS" > /dev/null 2>&1 &
    local pid=$!
    sleep 0.3
    "$OUT/$lib/remote_lat" "$ep" "$size" "$ROUNDTRIPS" 2>&1 | awk '/average latency/ {print $3}'
    wait $pid
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

printf '%-28s %14s %14s %8s\n' "test" "libzmq" "oxmq" "ratio"
for size in 64 1024; do
    count=$COUNT_64
    [ "$size" = 1024 ] && count=$COUNT_1K
    a=$(thr libzmq "$size" "$count"); b=$(thr oxmq "$size" "$count")
    printf '%-28s %14s %14s %8s\n' "tcp thr ${size} B [msg/s]" "$a" "$b" "$(ratio "$b" "$a")"
done
for size in 64 1024; do
    count=$COUNT_64
    [ "$size" = 1024 ] && count=$COUNT_1K
    a=$("$OUT/libzmq/inproc_thr" "$size" "$count" | awk '/mean throughput:/ && /msg/ {print $3}')
    b=$("$OUT/oxmq/inproc_thr" "$size" "$count" | awk '/mean throughput:/ && /msg/ {print $3}')
    printf '%-28s %14s %14s %8s\n' "inproc thr ${size} B [msg/s]" "$a" "$b" "$(ratio "$b" "$a")"
done
for size in 64 1024; do
    a=$(lat libzmq "$size"); b=$(lat oxmq "$size")
    printf '%-28s %14s %14s %8s\n' "tcp lat ${size} B [us]" "$a" "$b" "$(ratio "$a" "$b")"
    a=$("$OUT/libzmq/inproc_lat" "$size" "$ROUNDTRIPS" | awk '/average latency/ {print $3}')
    b=$("$OUT/oxmq/inproc_lat" "$size" "$ROUNDTRIPS" | awk '/average latency/ {print $3}')
    printf '%-28s %14s %14s %8s\n' "inproc lat ${size} B [us]" "$a" "$b" "$(ratio "$a" "$b")"
done
echo "ratio: throughput oxmq/libzmq, latency libzmq/oxmq (above 1: oxmq better)"
