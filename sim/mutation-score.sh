#!/usr/bin/env bash
# The simulator's mutation score: cargo-mutants mutates oxmq-core, and for each mutant runs
# the fixed 300-seed sweep (`cargo test -p oxmq-sim --test sweep`) as the only test, so the
# score says what the simulator's oracles catch, not what the core's unit tests catch.
#
# Usage: sim/mutation-score.sh FILE... [-- extra cargo-mutants options]
#   e.g. sim/mutation-score.sh core/src/pipe/mod.rs core/src/pattern/mod.rs
# Needs `cargo install cargo-mutants`. It works on a copy of the tree (cargo-mutants' default),
# and writes `mutants.out/` here: `caught.txt`, `missed.txt`, `timeout.txt`, `unviable.txt`.
#
# Why the wrapper: cargo-mutants 27.1 ignores `--test-package oxmq-sim` next to
# `-p oxmq-core` and runs `cargo test --package=oxmq-core --test sweep`, whose baseline fails
# (no such test there); without `--test sweep` it would quietly score oxmq-core's own unit
# tests instead. The wrapper sends its cargo commands to oxmq-sim.
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
  files+=(-f "$1")
  shift
done
[[ $# -gt 0 ]] && shift
if [[ ${#files[@]} -eq 0 ]]; then
  echo "usage: $0 FILE... [-- cargo-mutants options]" >&2
  exit 2
fi
real=$(rustup which cargo 2>/dev/null || command -v cargo)
wrap=$(mktemp -d)
trap 'rm -rf "$wrap"' EXIT
cat > "$wrap/cargo" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do
  [[ "\$a" == --package=oxmq-core* ]] && a=--package=oxmq-sim
  args+=("\$a")
done
exec "$real" "\${args[@]}"
EOF
chmod +x "$wrap/cargo"
CARGO="$wrap/cargo" cargo-mutants mutants -p oxmq-core "${files[@]}" --timeout 90 \
  --no-shuffle "$@" -- --test sweep
