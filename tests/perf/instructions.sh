#!/usr/bin/env bash
# Instructions per message, counted by callgrind: each implementation runs one oxmq-perf
# cell (both ends in one process, every thread counted) at COUNT and at 2×COUNT messages,
# and the difference over COUNT is what one message costs, start-up and teardown cancelled.
# Callgrind runs a process's threads one at a time, so a thread that spins while it waits
# counts its spinning; the count hardly depends on the machine's load.
#
#   tests/perf/instructions.sh [WORKLOAD] [COUNT] [IMPL...]
#   tests/perf/instructions.sh pushpull-tcp-64 200000 oxmq libzmq omq
set -euo pipefail
cd "$(dirname "$0")/../.."
workload=${1:-pushpull-tcp-64}
count=${2:-200000}
shift $(($# < 2 ? $# : 2))
impls=("$@")
[ ${#impls[@]} -gt 0 ] || impls=(oxmq libzmq)
command -v valgrind >/dev/null || { echo "valgrind is needed (apt install valgrind)" >&2; exit 2; }
cargo build --release -q -p oxmq-perf
perf=target/release/oxmq-perf
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

total() { # IMPL N -> instructions the whole process executed
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" \
        "$perf" --cell "$1" "$workload" "$2" callgrind 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-12s %14s %14s %11s %9s\n' impl "Ir at $count" "Ir at $((2 * count))" Ir/message "÷ first"
base=
for impl in "${impls[@]}"; do
    a=$(total "$impl" "$count" || true)
    b=$(total "$impl" $((2 * count)) || true)
    if [ -z "$a" ] || [ -z "$b" ] || [ $((b - a)) -lt "$count" ]; then
        printf '%-12s the cell failed (try: %s --cell %s %s 1000 t)\n' "$impl" "$perf" "$impl" "$workload"
        continue
    fi
    per=$(((b - a) / count))
    [ -n "$base" ] || base=$per
    printf '%-12s %14s %14s %11s %9s\n' "$impl" "$a" "$b" "$per" \
        "$(awk -v x="$per" -v y="$base" 'BEGIN { printf "%.2f", x / y }')"
done
