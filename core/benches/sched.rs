//! Scheduler micro-benchmark: the cost of one scheduling step should stay flat (every step is
//! O(1): array swaps and a hashed position index) from 10 to 10,000 pipes. The operations
//! sweep across all pipes, so at 10,000 pipes some growth is cache misses, not steps. Run with
//! `cargo bench -p oxmq-core --bench sched`. Prints nanoseconds per operation; no assertions.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use oxmq_core::sched::{Distributor, FairQueue, LoadBalancer};
use oxmq_core::{Message, PipeId, PipeItem, PipePeer, Socket, SocketOption, SocketType};

const OPS: u32 = 200_000;

fn per_op(mut f: impl FnMut(u32)) -> f64 {
    // Warm up, then time.
    for i in 0..OPS / 10 {
        f(i);
    }
    let start = Instant::now();
    for i in 0..OPS {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / f64::from(OPS)
}

fn lb(n: u64) -> f64 {
    let mut lb = LoadBalancer::new();
    for i in 0..n {
        lb.attach(PipeId(i));
    }
    let msg = Message::single(Bytes::from_static(b"m"));
    per_op(|i| {
        // Every 4th pipe refuses once, then is reactivated: park and unpark on the hot path.
        let to = lb.send(msg.clone(), |id, m| {
            if id.0 % 4 == 0 && i % 2 == 0 {
                Err(m)
            } else {
                Ok(())
            }
        });
        if let Ok(id) = to {
            black_box(id);
        }
        lb.activated(PipeId(u64::from(i) % n));
    })
}

fn fq(n: u64) -> f64 {
    let mut fq = FairQueue::new();
    for i in 0..n {
        fq.attach(PipeId(i));
        fq.activated(PipeId(i));
    }
    let msg = Message::single(Bytes::from_static(b"m"));
    per_op(|i| {
        // Half the pipes run dry after a read and are reactivated by the next arrival.
        let got = fq.recv(|id| (id.0 % 2 == 0 || i % 3 != 0).then(|| msg.clone()));
        black_box(got);
        fq.activated(PipeId(u64::from(i) % n));
    })
}

fn dist_one_match(n: u64) -> f64 {
    let mut d = Distributor::new();
    for i in 0..n {
        d.attach(PipeId(i));
    }
    let msg = Message::single(Bytes::from_static(b"m"));
    per_op(|i| {
        d.match_pipe(PipeId(u64::from(i) % n));
        black_box(d.send_to_matching(&msg, |_, _| true));
    })
}

/// The same as `dist_one_match`, but only ten of the `n` pipes are used: the same working set
/// whatever `n`, so any growth left would be in the steps themselves.
fn dist_hot_ten(n: u64) -> f64 {
    let mut d = Distributor::new();
    for i in 0..n {
        d.attach(PipeId(i));
    }
    let msg = Message::single(Bytes::from_static(b"m"));
    per_op(|i| {
        d.match_pipe(PipeId(u64::from(i) % 10));
        black_box(d.send_to_matching(&msg, |_, _| true));
    })
}

fn push_socket(n: u64) -> f64 {
    let mut s = Socket::new(SocketType::Push, 0).expect("push");
    s.set_option(SocketOption::SndHwm(0)).expect("hwm");
    for i in 0..n {
        s.attach_pipe(PipeId(i), PipePeer::new(SocketType::Pull))
            .expect("attach");
    }
    let msg = Message::single(Bytes::from_static(b"m"));
    per_op(|i| {
        s.send(msg.clone()).expect("send");
        while let Some(ev) = s.poll_event() {
            black_box(ev);
        }
        // Drain the pipe that just received, as a session would.
        let id = PipeId(u64::from(i) % n);
        while let Some(PipeItem::Message(m)) = s.poll_outbound(id) {
            black_box(m);
        }
    })
}

fn main() {
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>14} {:>12}",
        "pipes", "lb ns/op", "fq ns/op", "dist ns/op", "dist hot10", "PUSH ns/op"
    );
    for n in [10, 100, 1_000, 10_000] {
        println!(
            "{n:>8} {:>10.1} {:>10.1} {:>12.1} {:>14.1} {:>12.1}",
            lb(n),
            fq(n),
            dist_one_match(n),
            dist_hot_ten(n),
            push_socket(n)
        );
    }
}
