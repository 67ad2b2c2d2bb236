//! Seeded random sequences of C API calls with arbitrary arguments (bad option numbers and
//! sizes, odd endpoints, flags, messages moved and copied): every call must return, with
//! libzmq's error conventions, and none may panic inside the library.

use std::ffi::{c_int, c_void, CString};

use oxmq_zmq::*;

/// xorshift64*: a small deterministic generator, so that a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max as u64 + 1) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const ENDPOINTS: &[&str] = &[
    "inproc://seq-a",
    "inproc://seq-b",
    "tcp://127.0.0.1:*",
    "tcp://127.0.0.1:0",
    "tcp://localhost:1",
    "ipc://@oxmq-seq",
    "pgm://eth0;239.1.1.1:5555",
    "tcp://",
    "inproc://",
    "nonsense",
    "",
];

fn run(seed: u64, steps: usize) {
    let mut rng = Rng(seed | 1);
    let ctx = zmq_ctx_new();
    let mut sockets: Vec<*mut c_void> = Vec::new();
    let mut msgs: Vec<zmq_msg_t> = (0..4).map(|_| zmq_msg_t::uninit()).collect();
    for m in msgs.iter_mut() {
        assert_eq!(zmq_msg_init(m), 0);
    }
    for _ in 0..steps {
        let s = if sockets.is_empty() {
            std::ptr::null_mut()
        } else {
            sockets[rng.below(sockets.len() as u64) as usize]
        };
        let flags = (rng.below(4)) as c_int; // DONTWAIT and SNDMORE in any mix
        match rng.below(12) {
            0 if sockets.len() < 8 => {
                let p = zmq_socket(ctx, rng.below(14) as c_int);
                if !p.is_null() {
                    let zero: c_int = 0;
                    zmq_setsockopt(p, 17, (&zero as *const c_int).cast(), 4);
                    sockets.push(p);
                }
            }
            1 => {
                let ep =
                    CString::new(ENDPOINTS[rng.below(ENDPOINTS.len() as u64) as usize]).unwrap();
                match rng.below(4) {
                    0 => zmq_bind(s, ep.as_ptr()),
                    1 => zmq_connect(s, ep.as_ptr()),
                    2 => zmq_unbind(s, ep.as_ptr()),
                    _ => zmq_disconnect(s, ep.as_ptr()),
                };
            }
            2 => {
                let v = rng.bytes(48);
                zmq_setsockopt(s, rng.below(120) as c_int, v.as_ptr().cast(), v.len());
            }
            3 => {
                let mut buf = [0u8; 64];
                let mut len = rng.below(65) as usize;
                zmq_getsockopt(
                    s,
                    rng.below(120) as c_int,
                    buf.as_mut_ptr().cast(),
                    &mut len,
                );
            }
            4 => {
                let v = rng.bytes(40);
                zmq_send(s, v.as_ptr().cast(), v.len(), flags | ZMQ_DONTWAIT);
            }
            5 => {
                let mut buf = [0u8; 16];
                zmq_recv(
                    s,
                    buf.as_mut_ptr().cast(),
                    rng.below(17) as usize,
                    ZMQ_DONTWAIT,
                );
            }
            6 => {
                let i = rng.below(4) as usize;
                zmq_msg_send(&mut msgs[i], s, flags | ZMQ_DONTWAIT);
            }
            7 => {
                let i = rng.below(4) as usize;
                zmq_msg_recv(&mut msgs[i], s, ZMQ_DONTWAIT);
            }
            8 => {
                let (a, b) = (rng.below(4) as usize, rng.below(4) as usize);
                let pa: *mut zmq_msg_t = &mut msgs[a];
                let pb: *mut zmq_msg_t = &mut msgs[b];
                if rng.below(2) == 0 {
                    zmq_msg_copy(pa, pb);
                } else {
                    zmq_msg_move(pa, pb);
                }
                zmq_msg_gets(pa, c"Socket-Type".as_ptr());
                zmq_msg_get(pa, rng.below(5) as c_int);
            }
            9 => {
                let i = rng.below(4) as usize;
                zmq_msg_close(&mut msgs[i]);
                zmq_msg_init_size(&mut msgs[i], rng.below(100) as usize);
            }
            10 => {
                let mut items: Vec<zmq_pollitem_t> = sockets
                    .iter()
                    .map(|&p| zmq_pollitem_t {
                        socket: p,
                        fd: 0,
                        events: (rng.below(4)) as i16,
                        revents: 0,
                    })
                    .collect();
                zmq_poll(items.as_mut_ptr(), items.len() as c_int, 0);
            }
            11 if !sockets.is_empty() => {
                let i = rng.below(sockets.len() as u64) as usize;
                assert_eq!(zmq_close(sockets.swap_remove(i)), 0);
            }
            _ => {}
        }
    }
    for m in msgs.iter_mut() {
        zmq_msg_close(m);
    }
    for s in sockets {
        assert_eq!(zmq_close(s), 0);
    }
    assert_eq!(zmq_ctx_term(ctx), 0);
}

#[test]
fn random_call_sequences_never_panic() {
    let seeds: u64 = std::env::var("OXMQ_CAPI_SEQ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    for seed in 1..=seeds {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 300);
        assert_eq!(panics_caught(), 0, "seed {seed} made the library panic");
    }
}
