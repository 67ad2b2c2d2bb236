#!/usr/bin/env bash
# Builds libzmq 4.3.4's own test suite (tests/*.cpp with its testutil and Unity, vendored by
# the zeromq-src crate) against liboxmq_zmq.so, compiled with libzmq's own include/zmq.h so
# that our ABI is checked against the real declarations, runs each test with a timeout, and
# prints a table: test -> pass / fail / skipped (with the reason).
#
# Usage: capi/run-libzmq-tests.sh [test_name ...]     (default: every test)
# Environment: VENDOR (libzmq sources), TIMEOUT (seconds per test, default 60),
#              OXMQ_CAPI_LIBDIR (use the liboxmq_zmq.so there, do not build),
#              CARGO_TARGET_DIR, PROFILE (debug or release, default debug).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENDOR=${VENDOR:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zeromq-src-0.2.6+4.3.4/vendor 2>/dev/null | head -1)}
TIMEOUT=${TIMEOUT:-60}
PROFILE=${PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/libzmq-tests
CXX=${CXX:-c++}
CC=${CC:-cc}

[ -d "$VENDOR/tests" ] || { echo "libzmq sources not found (set VENDOR)"; exit 2; }
command -v "$CXX" >/dev/null || { echo "no C++ compiler ($CXX)"; exit 2; }

if [ -n "${OXMQ_CAPI_LIBDIR:-}" ]; then
    # Already built (capi/tests/libzmq_suite.rs passes the one `cargo test` made: a build
    # from here would put a second oxmq_zmq beside it, with other features, and confuse
    # later doc-tests).
    LIBDIR=$OXMQ_CAPI_LIBDIR
else
    release_flag=()
    [ "$PROFILE" = release ] && release_flag=(--release)
    (cd "$ROOT" && cargo build -q -p oxmq-capi --lib "${release_flag[@]}") || exit 2
    LIBDIR=$TARGET/$PROFILE
fi
[ -f "$LIBDIR/liboxmq_zmq.so" ] || { echo "no $LIBDIR/liboxmq_zmq.so"; exit 2; }

mkdir -p "$OUT/obj" "$OUT/bin" "$OUT/log" "$OUT/run"
# The tests include the build's platform.hpp; this one says what oxmq has on Linux.
cat > "$OUT/platform.hpp" <<'H'
#ifndef OXMQ_TEST_PLATFORM_HPP
#define OXMQ_TEST_PLATFORM_HPP
#define ZMQ_HAVE_LINUX 1
#define ZMQ_HAVE_IPC 1
#define ZMQ_HAVE_CURVE 1
#define ZMQ_HAVE_UIO 1
#endif
H

CFLAGS=(-O1 -g -w -DZMQ_CUSTOM_PLATFORM_HPP -DUNITY_USE_COMMAND_LINE_ARGS -DUNITY_EXCLUDE_FLOAT
        -I"$OUT" -I"$VENDOR/include" -I"$VENDOR/external/unity")
build_support() {
    local src=$1 obj=$2 compiler=$3
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
        "$compiler" "${CFLAGS[@]}" -c "$src" -o "$obj" || return 1
    fi
}
build_support "$VENDOR/external/unity/unity.c" "$OUT/obj/unity.o" "$CC" || exit 2
for u in testutil testutil_monitoring testutil_security testutil_unity; do
    build_support "$VENDOR/tests/$u.cpp" "$OUT/obj/$u.o" "$CXX" || exit 2
done

# Why a test is not run: it needs something outside the stable API, or outside oxmq.
skip_reason() {
    case $1 in
        test_poller|test_thread_safe|test_client_server|test_timers|test_radio_dish|\
        test_scatter_gather|test_dgram|test_app_meta|test_router_notify|\
        test_xpub_manual_last_value|test_peer|test_msg_init|test_channel|test_hello_msg|\
        test_disconnect_msg)
            echo "draft API (built only with ENABLE_DRAFTS)" ;;
        *tipc*) echo "transport oxmq lacks (tipc)" ;;
        *vmci*) echo "transport oxmq lacks (vmci)" ;;
        test_ws_transport|test_wss_transport|*_ws_fuzzer) echo "transport oxmq lacks (ws/wss)" ;;
        test_pair_tcp_cap_net_admin) echo "needs CAP_NET_ADMIN and capsh" ;;
        test_security_gssapi) echo "mechanism oxmq lacks (GSSAPI)" ;;
        test_security_curve|test_connect_curve_fuzzer|test_bind_curve_fuzzer)
            echo "internal API (libzmq's curve_client_tools.hpp and tweetnacl)" ;;
        *) echo "" ;;
    esac
}

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for f in "$VENDOR"/tests/test_*.cpp; do tests+=("$(basename "$f" .cpp)"); done
fi

pass=0 fail=0 skip=0
rows=()
for t in "${tests[@]}"; do
    reason=$(skip_reason "$t")
    if [ -n "$reason" ]; then
        rows+=("$(printf '%-36s skipped  %s' "$t" "$reason")"); skip=$((skip + 1)); continue
    fi
    bin=$OUT/bin/$t
    if ! "$CXX" "${CFLAGS[@]}" "$VENDOR/tests/$t.cpp" "$OUT"/obj/testutil*.o "$OUT/obj/unity.o" \
            -L"$LIBDIR" -loxmq_zmq -Wl,-rpath,"$LIBDIR" -lpthread -o "$bin" \
            > "$OUT/log/$t.build" 2>&1; then
        first=$(grep -m1 -E "error|undefined" "$OUT/log/$t.build" | cut -c1-90)
        rows+=("$(printf '%-36s FAIL     build: %s' "$t" "$first")"); fail=$((fail + 1)); continue
    fi
    rundir=$OUT/run/$t
    rm -rf "$rundir"; mkdir -p "$rundir"
    start=$(date +%s)
    tmo=$TIMEOUT
    # test_heartbeats sets its own 90 s alarm: its cases are long.
    [ "$t" = test_heartbeats ] && [ "$tmo" -lt 150 ] && tmo=150
    (cd "$rundir" && timeout -k 5 "$tmo" stdbuf -oL -eL "$bin") > "$OUT/log/$t.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    summary=$(grep -m1 -E "^[0-9]+ Tests [0-9]+ Failures [0-9]+ Ignored" "$OUT/log/$t.out")
    if [ $rc -eq 77 ]; then
        # Automake's "skipped": the fuzz targets exit so without their seed corpus.
        rows+=("$(printf '%-36s skipped  %s' "$t" "skipped itself (exit 77: fuzz seed corpus not vendored)")"); skip=$((skip + 1))
    elif [ $rc -eq 0 ]; then
        rows+=("$(printf '%-36s pass     %s (%ss)' "$t" "$summary" "$secs")"); pass=$((pass + 1))
    else
        why="exit $rc"
        [ $rc -eq 124 ] && why="timeout ${tmo}s"
        [ $rc -ge 128 ] && why="signal $((rc - 128))"
        first=$(grep -m1 -E ":FAIL" "$OUT/log/$t.out" | sed "s|.*/tests/||" | cut -c1-110)
        rows+=("$(printf '%-36s FAIL     %s; %s %s' "$t" "$why" "$summary" "$first")"); fail=$((fail + 1))
    fi
done

printf '%s\n' "${rows[@]}"
echo
echo "libzmq $(basename "$(dirname "$VENDOR")" | sed 's/.*+//') tests against liboxmq_zmq.so ($PROFILE):" \
     "$pass pass, $fail fail, $skip skipped, $((pass + fail + skip)) total"
echo "logs: $OUT/log"
