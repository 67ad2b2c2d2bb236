#!/usr/bin/env bash
# Runs pyzmq's own test suite against liboxmq_zmq.so: builds the release library, fetches
# pyzmq's source distribution (pinned version and hash), builds it in a venv with
# ZMQ_PREFIX pointing at a prefix whose include/zmq.h is libzmq's own header (vendored by
# the zeromq-src crate) and whose lib/libzmq.so is a link to liboxmq_zmq.so, checks that
# the built pyzmq really loads oxmq, runs every test (a hung or crashed test costs only
# itself, see capi/pyzmq-runner.py) and writes a table, test -> pass / fail / skip with the
# reason, to capi/pyzmq-test-results.txt.
#
# Usage: capi/run-pyzmq-tests.sh [pytest args, e.g. tests/test_socket.py]  (default: all)
# Environment: TIMEOUT (seconds per test, default 60), CARGO_TARGET_DIR, PYTHON (python3),
#              VENDOR (libzmq sources of zeromq-src), TABLE (where the table goes),
#              REFERENCE=1: the same tests, same tools, against pyzmq's own wheel of the same
#              version and the libzmq bundled in it (a baseline for flaky tests), table in
#              target/pyzmq/reference-results.txt.
# Writes only under $CARGO_TARGET_DIR/pyzmq (and pip's cache) besides the table.
set -u

PYZMQ_VERSION=27.3.0
PYZMQ_SHA256=bbedb3d1d99babc625f1dd9d7438acefd442b36b75073fd6bc1ef7c0a4b96d56
# The test tools, pinned to the versions of the recorded run: pyzmq's test-requirements.txt
# less the linters, type stubs and coverage, plus gevent (for the zmq.green tests, which
# pyzmq's own list installs only below Python 3.11) and numpy (test_buffer_numpy).
# mypy is not installed: test_mypy type-checks pyzmq's examples, not the library.
TEST_DEPS=(pytest==9.2.0 pytest-asyncio==1.5.0 pytest-timeout==2.4.0 pytest-rerunfailures==16.7
           tornado==6.6.1 cython==3.3.1 setuptools gevent==26.9.0 numpy==2.4.6)

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENDOR=${VENDOR:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zeromq-src-0.2.6+4.3.4/vendor 2>/dev/null | head -1)}
TIMEOUT=${TIMEOUT:-60}
PYTHON=${PYTHON:-python3}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/pyzmq
REFERENCE=${REFERENCE:-0}
if [ "$REFERENCE" = 1 ]; then
    TABLE=${TABLE:-$OUT/reference-results.txt}
else
    TABLE=${TABLE:-$HERE/pyzmq-test-results.txt}
fi
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null)

[ -f "$VENDOR/include/zmq.h" ] || { echo "libzmq's zmq.h not found (set VENDOR)"; exit 2; }
"$PYTHON" -c 'import venv' 2>/dev/null || { echo "no $PYTHON with venv"; exit 2; }

if [ "$REFERENCE" = 1 ]; then
    echo "== reference: pyzmq $PYZMQ_VERSION's wheel with its bundled libzmq"
fi
echo "== building liboxmq_zmq.so (release)"
(cd "$ROOT" && cargo build -q --release -p oxmq-capi --lib) || exit 2
LIB=$TARGET/release/liboxmq_zmq.so
[ -f "$LIB" ] || { echo "no $LIB"; exit 2; }

# The prefix pyzmq is built against: libzmq's header, our library under libzmq's name.
PREFIX=$OUT/prefix
mkdir -p "$PREFIX/include" "$PREFIX/lib"
cp "$VENDOR/include/zmq.h" "$VENDOR/include/zmq_utils.h" "$PREFIX/include/"
ln -sfn "$LIB" "$PREFIX/lib/libzmq.so"
ln -sfn "$LIB" "$PREFIX/lib/libzmq.so.5"

echo "== pyzmq $PYZMQ_VERSION source distribution"
SDIST=$OUT/dist/pyzmq-$PYZMQ_VERSION.tar.gz
if [ ! -f "$SDIST" ]; then
    mkdir -p "$OUT/dist"
    "$PYTHON" -m pip download -q --no-deps --no-binary pyzmq -d "$OUT/dist" \
        "pyzmq==$PYZMQ_VERSION" || exit 2
fi
echo "$PYZMQ_SHA256  $SDIST" | sha256sum -c --quiet - || { echo "sdist hash mismatch"; exit 2; }
SRC=$OUT/pyzmq-$PYZMQ_VERSION
if [ ! -f "$SRC/pyproject.toml" ]; then
    rm -rf "$SRC"; tar xzf "$SDIST" -C "$OUT" || exit 2
fi

if [ "$REFERENCE" = 1 ]; then
    VENV=$OUT/ref-venv
    PY=$VENV/bin/python
    [ -x "$PY" ] || "$PYTHON" -m venv "$VENV" || exit 2
    "$PY" -m pip install -q "${TEST_DEPS[@]}" "pyzmq==$PYZMQ_VERSION" --only-binary pyzmq || exit 2
    (cd / && "$PY" -c 'import zmq; print("reference: pyzmq", zmq.pyzmq_version(), "libzmq", zmq.zmq_version())')
    RUN=$OUT/run-ref
else
    VENV=$OUT/venv
    PY=$VENV/bin/python
    if [ ! -x "$PY" ]; then
        "$PYTHON" -m venv "$VENV" || exit 2
    fi
    "$PY" -m pip install -q "${TEST_DEPS[@]}" || exit 2

    # pyzmq links libzmq.so from the prefix by RPATH, so a rebuilt liboxmq_zmq.so is picked up
    # without rebuilding pyzmq; it is built once (or again when its stamp says another prefix).
    STAMP=$OUT/pyzmq-built-against
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$PREFIX $PYZMQ_VERSION" ] || ! "$PY" -c 'import zmq' 2>/dev/null; then
        echo "== building pyzmq against $PREFIX"
        ZMQ_PREFIX=$PREFIX PYZMQ_NO_BUNDLE=1 "$PY" -m pip install --no-deps --no-binary pyzmq \
            --force-reinstall "$SRC" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 2; }
        echo "$PREFIX $PYZMQ_VERSION" > "$STAMP"
    fi

    # Which libzmq does this pyzmq load? It must be ours, or the run proves nothing.
    CHECK=$(cd / && "$PY" - "$LIB" <<'PY'
import os, sys, zmq
lib = os.path.realpath(sys.argv[1])
maps = {l.split()[-1] for l in open("/proc/self/maps") if "/" in l}
loaded = [m for m in maps if "zmq" in os.path.basename(m) and not m.endswith(".py")]
ext = os.path.dirname(zmq.backend.cython._zmq.__file__)
others = [m for m in loaded if os.path.realpath(m) != lib and not m.startswith(ext)]
ok = lib in {os.path.realpath(m) for m in loaded} and not others and zmq.zmq_version() == "4.3.4"
print("ok" if ok else "BAD", "pyzmq", zmq.pyzmq_version(), "libzmq", zmq.zmq_version(),
      "curve", zmq.has("curve"), "draft", zmq.has("draft"), "loaded", sorted(loaded))
PY
)
    echo "$CHECK"
    case $CHECK in ok*) ;; *) echo "pyzmq does not load $LIB"; exit 2 ;; esac
    RUN=$OUT/run
fi

echo "== running pyzmq's tests (TIMEOUT=${TIMEOUT}s per test)"
rm -rf "$RUN"; mkdir -p "$RUN"
cp -r "$SRC/tests" "$SRC/pytest.ini" "$RUN/"
start=$(date +%s)
BODY=$RUN/table.body
# test_cython compiles an extension against zmq.h, found the way a compiler finds a libzmq
# installed under a prefix of one's own (the wheel of the reference run brings its own).
cflags=(C_INCLUDE_PATH="$PREFIX/include" LIBRARY_PATH="$PREFIX/lib")
[ "$REFERENCE" = 1 ] && cflags=()
(cd "$RUN" && env "${cflags[@]}" "$PY" "$HERE/pyzmq-runner.py" "$BODY" "$TIMEOUT" "$@") \
    > "$RUN/runner.out" 2>&1
rc=$?
cat "$RUN/runner.out"
[ $rc -eq 0 ] || { echo "runner failed ($rc)"; exit 2; }
read -r pass fail skip total < <(tail -1 "$RUN/runner.out")
mins=$(( ($(date +%s) - start + 59) / 60 ))

{
    if [ "$REFERENCE" = 1 ]; then
        echo "# pyzmq $PYZMQ_VERSION's tests against its own wheel (bundled libzmq), REFERENCE=1 capi/run-pyzmq-tests.sh"
    else
        echo "# pyzmq $PYZMQ_VERSION's tests against liboxmq_zmq.so (release), capi/run-pyzmq-tests.sh"
    fi
    echo "# oxmq $REV, $(date -u +%Y-%m-%d), ${mins} min," \
         "TIMEOUT=${TIMEOUT}s per test, Python $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "# $pass pass, $fail fail, $skip skip, $total total"
    echo "# test  result  (pass: seconds; skip: the test's own reason; fail: the error)"
    cat "$BODY"
} > "$TABLE"
echo
echo "pyzmq $PYZMQ_VERSION tests ($([ "$REFERENCE" = 1 ] && echo "reference, bundled libzmq" || echo "liboxmq_zmq.so")): $pass pass, $fail fail, $skip skip, $total total"
echo "table: $TABLE; logs: $RUN/pytest-*.log"
