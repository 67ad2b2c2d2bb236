"""Runs pyzmq's test suite so that a hung or crashed test costs only itself.

Used by capi/run-pyzmq-tests.sh with the venv's python, from a directory holding pyzmq's
tests/ and pytest.ini. A small pytest plugin (written next to the tests) appends one JSON
line per test as it starts and as each phase ends. pytest-timeout's "thread" method ends the
whole process when a test hangs (a blocking call inside the library does not return to
Python, so its "signal" method cannot interrupt it); the test that started and never ended
is then recorded as failed, and pytest runs again over the tests not yet run.

Usage: python pyzmq-runner.py OUT_TABLE TIMEOUT [pytest args...]
Prints "pass fail skip total" on its last line.
"""

import json
import os
import subprocess
import sys

PLUGIN = r'''
import json, os
import pytest

_LOG = os.environ["OXMQ_PYZMQ_EVENTS"]

def _write(obj):
    with open(_LOG, "a") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()
        os.fsync(f.fileno())

def pytest_runtest_logstart(nodeid, location):
    _write({"start": nodeid})

def _reason(report):
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2])
    if hasattr(report, "wasxfail"):
        return "xfail: " + str(report.wasxfail)
    crash = getattr(lr, "reprcrash", None)
    if crash is not None:
        return crash.message
    return str(lr).strip().splitlines()[-1] if lr else ""

def pytest_runtest_logreport(report):
    _write({"id": report.nodeid, "when": report.when, "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"), "reason": _reason(report),
            "secs": round(report.duration, 2)})
'''


def collect(py, args):
    """The test ids, and the modules skipped whole at collection (id -> reason)."""
    out = subprocess.run(
        [py, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "-rs", *args],
        capture_output=True,
        text=True,
    ).stdout
    ids = [line.strip() for line in out.splitlines() if "::" in line]
    skipped = {}
    for line in out.splitlines():
        # SKIPPED [1] tests/test_mypy.py:11: could not import 'mypy': No module named 'mypy'
        if line.startswith("SKIPPED ["):
            where, _, reason = line.split("] ", 1)[1].partition(": ")
            skipped[where.split(":")[0]] = "whole module skipped: " + reason
    return ids, skipped


def main():
    table, timeout, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    py = sys.executable
    here = os.getcwd()
    with open(os.path.join(here, "oxmq_events_plugin.py"), "w") as f:
        f.write(PLUGIN)
    events_path = os.path.join(here, "events.jsonl")
    if os.path.exists(events_path):
        os.remove(events_path)
    env = dict(os.environ, OXMQ_PYZMQ_EVENTS=events_path, PYTHONPATH=here)

    ids, module_skips = collect(py, args)
    if not ids:
        print("no tests collected", file=sys.stderr)
        sys.exit(2)
    results = {}  # nodeid -> (status, detail)
    hung = {}  # nodeid -> why the process ended while it ran
    remaining = list(ids)
    runs = 0
    while remaining:
        runs += 1
        open(events_path, "a").close()
        seen_before = sum(1 for _ in open(events_path))
        with open(os.path.join(here, f"pytest-{runs}.log"), "w") as log:
            proc = subprocess.run(
                [py, "-m", "pytest", "-p", "no:cacheprovider", "-p", "oxmq_events_plugin",
                 f"--timeout={timeout}", "--timeout-method=thread", "-q",
                 # tmp_path under the run directory, not /tmp
                 f"--basetemp={os.path.join(here, f'tmp-{runs}')}", *remaining],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=here,
            )
        started, reports = [], {}
        with open(events_path) as f:
            for line in list(f)[seen_before:]:
                ev = json.loads(line)
                if "start" in ev:
                    started.append(ev["start"])
                else:
                    reports.setdefault(ev["id"], []).append(ev)
        for nodeid, evs in reports.items():
            results[nodeid] = classify(evs)
        unfinished = [n for n in started if n not in reports or not any(
            e["when"] == "teardown" for e in reports[n])]
        for n in unfinished:
            with open(os.path.join(here, f"pytest-{runs}.log")) as log:
                text = log.read()
            if "Timeout" in text and "+++++" in text:
                why = f"hung: killed by pytest-timeout after {timeout}s"
            else:
                why = f"process ended during the test (exit {proc.returncode})"
            hung[n] = why
            results[n] = ("fail", why)
        done = set(results)
        before = len(remaining)
        remaining = [n for n in remaining if n not in done]
        if len(remaining) == before:  # no progress: collection error or the like
            for n in remaining:
                results[n] = ("fail", f"not run (pytest exit {proc.returncode}, run {runs})")
            break

    for module, reason in module_skips.items():
        ids.append(module)
        results[module] = ("skip", reason)
    ids.sort(key=lambda n: n.split("::")[0])  # stable: keeps pytest's order in a module
    counts = {"pass": 0, "fail": 0, "skip": 0}
    width = max(len(n) for n in ids)
    with open(table, "w") as f:
        for n in ids:
            status, detail = results.get(n, ("fail", "no result"))
            counts[status] += 1
            detail = " ".join(detail.split())[:160]
            f.write(f"{n:<{width}}  {status:<4}  {detail}".rstrip() + "\n")
    print(f"pytest runs: {runs} (a new one after each hung or crashed test)")
    print(counts["pass"], counts["fail"], counts["skip"], len(ids))


def classify(evs):
    """One test's reports (setup, call, teardown; reruns repeat them) -> (status, detail)."""
    reruns = sum(1 for e in evs if e["outcome"] == "rerun")
    final = [e for e in evs if e["outcome"] != "rerun"]
    note = f" (passed after {reruns} rerun(s))" if reruns else ""
    for e in final:
        if e["outcome"] == "failed":
            if e["xfail"]:
                continue
            where = "" if e["when"] == "call" else f"error in {e['when']}: "
            return "fail", where + e["reason"] + (f" ({reruns} rerun(s))" if reruns else "")
    for e in final:
        if e["outcome"] == "skipped":  # skipped, or an expected failure ("xfail: ...")
            return "skip", e["reason"]
    call = [e for e in final if e["when"] == "call"]
    secs = f"{call[0]['secs']}s" if call else ""
    if call and call[0]["xfail"]:
        return "fail", "xpass (expected to fail, passed): " + call[0]["reason"]
    return "pass", secs + note


if __name__ == "__main__":
    main()
