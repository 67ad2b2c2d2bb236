#!/usr/bin/env bash
# libzmq's perf tools (vendored perf/*.cpp) built twice — against libzmq itself (the static
# library the zmq-sys crate builds, release profile) and against liboxmq_zmq.so (release) —
# and run side by side. Prints msg/s for throughput (tcp and inproc), µs for latency, and
# the ratio oxmq / libzmq (for latency, libzmq / oxmq: above 1 means oxmq is faster).
#
# Each test runs REPEAT times (default 3), the two libraries taking turns, so that a busy
# machine's noise costs both alike; the best and the median of each are printed.
#
# Usage: capi/run-perf.sh            Environment: VENDOR, CARGO_TARGET_DIR, COUNT_64,
#        COUNT_1K, ROUNDTRIPS, PORT, REPEAT
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
REPEAT=${REPEAT:-3}

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

# Starts a local_* tool ($1, output to $2, arguments after) on a free port; sets LOCAL_PID
# and LOCAL_EP. A random port may be taken (the tool then exits at once, its bind refused),
# so a few are tried. Not in a subshell: the caller must be able to wait for the tool.
start_local() {
    local tool=$1 out=$2; shift 2
    for _ in 1 2 3 4 5; do
        LOCAL_EP="tcp://127.0.0.1:$((PORT + RANDOM % 2000))"
        timeout 120 "$tool" "$LOCAL_EP" "$@" > "$out" 2>&1 &
        LOCAL_PID=$!
        sleep 0.3
        kill -0 "$LOCAL_PID" 2>/dev/null && return 0
        wait "$LOCAL_PID" 2>/dev/null
    done
    return 1
}

# One tcp throughput run: prints msg/s.
thr() {
    local lib=$1 size=$2 count=$3
    start_local "$OUT/$lib/local_thr" "$OUT/$lib.local.out" "$size" "$count" || return
    # A side that failed must not leave the other waiting forever.
    timeout 120 "$OUT/$lib/remote_thr" "$LOCAL_EP" "$size" "$count" > /dev/null 2>&1
    wait "$LOCAL_PID"
    awk '/mean throughput:/ && /msg/ {print $3}' "$OUT/$lib.local.out"
}

# One tcp latency run: prints the average one-way latency in µs.
lat() {
    local lib=$1 size=$2
    start_local "$OUT/$lib/local_lat" /dev/null "$size" "$ROUNDTRIPS" || return
    timeout 120 "$OUT/$lib/remote_lat" "$LOCAL_EP" "$size" "$ROUNDTRIPS" 2>&1 | awk '/average latency/ {print $3}'
    wait "$LOCAL_PID"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
inproc_thr() { "$OUT/$1/inproc_thr" "$2" "$3" | awk '/mean throughput:/ && /msg/ {print $3}'; }
inproc_lat() { "$OUT/$1/inproc_lat" "$2" "$ROUNDTRIPS" | awk '/average latency/ {print $3}'; }

# best <max|min> <command...>: runs "<command> libzmq" and "<command> oxmq" REPEAT times in
# turn and prints the best and the median of each: "libzmq-best oxmq-best libzmq-median
# oxmq-median". The best says what each can do on a quiet moment of a noisy machine; the
# median, over enough runs, is the steadier comparison.
best() {
    local pick=$1; shift
    local a="" b="" x
    for _ in $(seq "$REPEAT"); do
        x=$("$@" libzmq); a="$a $x"
        x=$("$@" oxmq); b="$b $x"
    done
    for list in "$a" "$b"; do
        echo "$list" | tr ' ' '\n' | grep -v '^$' | sort -g | { [ "$pick" = max ] && tail -1 || head -1; }
    done | tr '\n' ' '
    for list in "$a" "$b"; do
        echo "$list" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : "n/a")}'
    done | tr '\n' ' '
}

row() { printf '%-28s %12s %12s %6s  %12s %12s %6s\n' "$@"; }
with_lib_last() { local f=$1 lib=${*: -1}; shift; set -- "${@:1:$(($# - 1))}"; "$f" "$lib" "$@"; }

row "test ($REPEAT runs each)" "libzmq best" "oxmq best" "ratio" "libzmq med" "oxmq med" "ratio"
for size in 64 1024; do
    count=$COUNT_64
    [ "$size" = 1024 ] && count=$COUNT_1K
    read -r a b c d <<< "$(best max with_lib_last thr "$size" "$count")"
    row "tcp thr ${size} B [msg/s]" "$a" "$b" "$(ratio "$b" "$a")" "$c" "$d" "$(ratio "$d" "$c")"
    read -r a b c d <<< "$(best max with_lib_last inproc_thr "$size" "$count")"
    row "inproc thr ${size} B [msg/s]" "$a" "$b" "$(ratio "$b" "$a")" "$c" "$d" "$(ratio "$d" "$c")"
done
for size in 64 1024; do
    read -r a b c d <<< "$(best min with_lib_last lat "$size")"
    row "tcp lat ${size} B [us]" "$a" "$b" "$(ratio "$a" "$b")" "$c" "$d" "$(ratio "$c" "$d")"
    read -r a b c d <<< "$(best min with_lib_last inproc_lat "$size")"
    row "inproc lat ${size} B [us]" "$a" "$b" "$(ratio "$a" "$b")" "$c" "$d" "$(ratio "$c" "$d")"
done
echo "ratio: throughput oxmq/libzmq, latency libzmq/oxmq (above 1: oxmq better)"
