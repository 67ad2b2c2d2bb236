//! libzmq 4.3's own tests, built against this library by `capi/run-libzmq-tests.sh`: every
//! test in `capi/libzmq-ci-tests.txt` (the ones that exercise what oxmq has and pass) must
//! pass. The full table, with the failures explained, is `capi/libzmq-test-results.txt`.
//!
//! Needs a C and C++ compiler (`.ci/run` installs g++) and libzmq's sources, which the `zmq`
//! dev-dependency's `zeromq-src` brings into cargo's registry.

use std::path::Path;
use std::process::Command;

#[test]
fn libzmqs_own_tests_pass_against_the_c_abi() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = std::fs::read_to_string(here.join("libzmq-ci-tests.txt")).expect("the CI list");
    let tests: Vec<&str> = list
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(tests.len() > 50, "the list shrank to {}", tests.len());
    // The library `cargo test` built for this test, beside its executable
    // (target/<profile>/deps/). The copy in target/<profile>/ is only refreshed by
    // `cargo build`, so it may be older than the code under test.
    let exe = std::env::current_exe().expect("the test's path");
    let libdir = exe.parent().expect("target/<profile>/deps/<test>");
    assert!(
        libdir.join("liboxmq_zmq.so").exists(),
        "no liboxmq_zmq.so in {}",
        libdir.display()
    );
    let out = Command::new("bash")
        .arg(here.join("run-libzmq-tests.sh"))
        .args(&tests)
        .env("OXMQ_CAPI_LIBDIR", libdir)
        // cargo's LD_LIBRARY_PATH names target/<profile>/ too, and would load the possibly
        // older copy there over the tests' RUNPATH.
        .env_remove("LD_LIBRARY_PATH")
        // A loaded CI machine: each test gets three times the 30 s they take at most here.
        .env("TIMEOUT", "90")
        .output()
        .expect("bash runs the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("FAIL"))
        .collect();
    assert!(
        failed.is_empty(),
        "libzmq tests failed:\n{}",
        failed.join("\n")
    );
    let summary = format!("{} pass, 0 fail, 0 skipped", tests.len());
    assert!(
        stdout.contains(&summary),
        "expected \"{summary}\" in the script's output"
    );
}
