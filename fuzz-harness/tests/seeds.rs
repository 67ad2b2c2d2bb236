//! Runs every committed seed of every fuzz target as a plain test.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for seed in seeds {
        eprintln!("{target}: {}", seed.display());
        run(&std::fs::read(&seed).expect("a readable seed"));
    }
}

#[test]
fn frame_decoder_seeds() {
    replay("frame_decoder", oxmq_fuzz_harness::frame_decoder);
}

#[test]
fn greeting_seeds() {
    replay("greeting", oxmq_fuzz_harness::greeting);
}

#[test]
fn engine_seeds() {
    replay("engine", oxmq_fuzz_harness::engine);
}

#[test]
fn socket_seeds() {
    replay("socket", oxmq_fuzz_harness::socket);
}

#[test]
fn plain_server_seeds() {
    replay("plain_server", oxmq_fuzz_harness::plain_server);
}

#[test]
fn plain_client_seeds() {
    replay("plain_client", oxmq_fuzz_harness::plain_client);
}

#[test]
fn curve_server_seeds() {
    replay("curve_server", oxmq_fuzz_harness::curve_server);
}

#[test]
fn curve_client_seeds() {
    replay("curve_client", oxmq_fuzz_harness::curve_client);
}

#[test]
fn capi_seeds() {
    replay("capi", oxmq_fuzz_harness::capi_calls);
}

/// The crate docs' example: a ZMTP 3.0 greeting offering NULL, decoded prefix by prefix.
#[test]
fn the_docs_example_greeting() {
    let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    oxmq_fuzz_harness::greeting(&greeting);
}
