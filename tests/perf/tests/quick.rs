//! CI checks that the harness runs, not how fast anything is: `--quick` must finish with every
//! cell measured, a table with every workload, and every chart written.

use std::process::Command;

#[test]
fn quick_run_measures_every_cell_and_writes_the_report() {
    let out = std::env::temp_dir().join(format!("oxmq-perf-quick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_oxmq-perf"))
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .expect("run oxmq-perf");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "oxmq-perf --quick failed:\n{log}");
    assert!(!log.contains("FAILED"), "a cell failed:\n{log}");
    let table = std::fs::read_to_string(out.join("results.md")).expect("results.md");
    for heading in [
        "### PUSH/PULL tcp 64 B",
        "### PUSH/PULL ipc 1 KiB",
        "### PUSH/PULL inproc 1 MiB",
        "### DEALER/ROUTER tcp 64 B",
        "### PUB/SUB tcp 64 B to 32",
        "### REQ/REP tcp 64 B: median round trip",
        "### REQ/REP inproc 64 B: p99 round trip",
        "### ROUTER accepting tcp connections: memory per idle connection",
    ] {
        assert!(table.contains(heading), "no {heading:?} in:\n{table}");
    }
    for name in [
        "oxmq-mio",
        "oxmq-tokio",
        "libzmq",
        "ØMQ.rs (omq-tokio)",
        "ØMQ.rs blocking",
        "zmq.rs",
        "raw socket",
    ] {
        assert!(table.contains(&format!("| {name}")), "no row for {name}");
    }
    for chart in [
        "pushpull-tcp.svg",
        "pushpull-ipc.svg",
        "pushpull-inproc.svg",
        "patterns.svg",
        "latency.svg",
        "connections.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(chart)).expect(chart);
        assert!(
            svg.starts_with("<svg") && svg.contains("<rect"),
            "{chart} is empty"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
