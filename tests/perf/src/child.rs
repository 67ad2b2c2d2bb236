//! The child side: every cell runs in a process of its own, so no implementation inherits
//! another's threads, heap or leftover connections, and a hung cell can be killed. Also the
//! ZMTP client swarm for the accept workload, and the small measuring helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::impls;
use crate::spec::Workload;

/// The line a child prints its results on.
pub const RESULT_PREFIX: &str = "OXMQ-PERF-RESULT";

/// `--cell IMPL WORKLOAD COUNT TAG`: runs one cell and prints one result line.
pub fn run_cell(args: &[String]) -> ! {
    let [id, key, count, tag] = args else {
        eprintln!("usage: --cell IMPL WORKLOAD COUNT TAG");
        std::process::exit(2);
    };
    let entry = impls::by_id(id).unwrap_or_else(|| panic!("unknown implementation {id}"));
    let w = Workload::parse(key).unwrap_or_else(|| panic!("unknown workload {key}"));
    let count: usize = count.parse().expect("count");
    let results = entry.run(w, count, tag);
    let mut line = String::from(RESULT_PREFIX);
    for (m, v) in results {
        line.push_str(&format!(" {}={v}", m.key()));
    }
    println!("{line}");
    std::io::stdout().flush().expect("flush");
    // Leave at once: the measurement is taken, and a library's orderly teardown (linger,
    // joining its threads) is not what is measured.
    std::process::exit(0);
}

/// Parses a child's result line back into metrics.
pub fn parse_result(line: &str) -> Option<Vec<(String, f64)>> {
    let rest = line.strip_prefix(RESULT_PREFIX)?;
    rest.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Resident set size of this process, from /proc.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// (median, p99) of round-trip times, in nanoseconds.
pub fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    assert!(!times.is_empty(), "no samples");
    times.sort_unstable();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)].as_nanos() as f64;
    (at(50), at(99))
}

/// PUB/SUB cells size their queues so nothing drops where the library has a high-water
/// mark; the share lost is reported (zmq.rs has no such option and drops).
pub fn lost_percent(expected: usize, delivered: usize) -> f64 {
    100.0 * expected.saturating_sub(delivered) as f64 / expected.max(1) as f64
}

/// The client swarm, killed when dropped.
pub struct Clients(Child);

impl Drop for Clients {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `--zmtp-clients ENDPOINT COUNT` in a process of its own (20,000 descriptors in one
/// process would pass the usual limit).
pub fn spawn_zmtp_clients(endpoint: &str, count: usize) -> Clients {
    let exe = std::env::current_exe().expect("own executable");
    let child = Command::new(exe)
        .args(["--zmtp-clients", endpoint, &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the client swarm");
    Clients(child)
}

/// At most this many connections wait for the server's greeting at once: below libzmq's
/// default listen backlog (100), so no implementation pays for SYN retries.
const WINDOW: usize = 50;

/// `--zmtp-clients ENDPOINT COUNT`: opens COUNT connections, each sending a ZMTP 3.0 NULL
/// greeting, then (once the server's greeting is in) READY as a DEALER and one message;
/// then holds them open until stdin closes.
pub fn zmtp_clients(args: &[String]) -> ! {
    let [endpoint, count] = args else {
        eprintln!("usage: --zmtp-clients tcp://HOST:PORT COUNT");
        std::process::exit(2);
    };
    let addr = endpoint.strip_prefix("tcp://").expect("a tcp endpoint");
    let count: usize = count.parse().expect("count");
    let hello = zmtp_hello();
    let (greeting, rest) = hello.split_at(64);
    let mut waiting = std::collections::VecDeque::new();
    let mut open = Vec::with_capacity(count);
    // Reads the server's greeting, then sends READY and the message. A server gone (the
    // measurement is over) ends the swarm quietly.
    let settle = |s: TcpStream, open: &mut Vec<TcpStream>| {
        let mut theirs = [0u8; 64];
        let mut r = &s;
        if r.read_exact(&mut theirs).is_err() || r.write_all(rest).is_err() {
            std::process::exit(0);
        }
        open.push(s);
    };
    for _ in 0..count {
        let Ok(mut s) = TcpStream::connect(addr) else {
            std::process::exit(1);
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
        if s.write_all(greeting).is_err() {
            std::process::exit(1);
        }
        waiting.push_back(s);
        if waiting.len() >= WINDOW {
            settle(waiting.pop_front().expect("non-empty"), &mut open);
        }
    }
    while let Some(s) = waiting.pop_front() {
        settle(s, &mut open);
    }
    let mut line = String::new();
    let _ = BufReader::new(std::io::stdin()).read_line(&mut line);
    std::process::exit(0);
}

/// Greeting (64 bytes), READY with Socket-Type DEALER, and one two-byte message.
fn zmtp_hello() -> Vec<u8> {
    let mut b = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    b.extend_from_slice(b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    b.push(0); // as-server
    b.extend_from_slice(&[0; 31]);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&6u32.to_be_bytes());
    ready.extend_from_slice(b"DEALER");
    b.push(0x04);
    b.push(ready.len() as u8);
    b.extend_from_slice(&ready);
    b.extend_from_slice(&[0x00, 2, b'h', b'i']);
    debug_assert_eq!(b.len(), 64 + 2 + 28 + 4);
    b
}
