//! The implementations measured. Each is one [`Entry`]: a blocking library implements
//! [`Blocking`] and an async one [`Async`] (a context and a socket type with
//! bind/connect/send/recv, some forty lines), then joins [`all`] as one line.

mod libzmq;
mod libzmq_sodium;
mod omq;
mod oxmq;
mod oxmq_tokio;
mod raw;
mod zmqrs;

use crate::blocking::Blocking;
use crate::nonblocking::Async;
use crate::spec::{Metric, Transport, Workload};

/// One implementation, as the harness sees it.
pub trait Entry {
    /// Short id used on the command line (`--impls oxmq,libzmq`).
    fn id(&self) -> &'static str;
    /// The name the table and charts show.
    fn name(&self) -> &'static str;
    /// Whether it can run `w` at all (zmq.rs has no inproc, the raw ceiling no patterns).
    fn supports(&self, w: Workload) -> bool;
    /// Runs one cell in this process and returns its results.
    fn run(&self, w: Workload, count: usize, tag: &str) -> Vec<(Metric, f64)>;
}

/// A library driven through [`crate::blocking`] or [`crate::nonblocking`]: its names, its
/// transports, and that family's `run` for its type.
struct Library {
    id: &'static str,
    name: &'static str,
    transports: &'static [Transport],
    curve: bool,
    /// Measured only on the CURVE workloads (a libzmq loaded for its CURVE alone).
    curve_only: bool,
    run: fn(Workload, usize, &str) -> Vec<(Metric, f64)>,
}

impl Entry for Library {
    fn id(&self) -> &'static str {
        self.id
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn supports(&self, w: Workload) -> bool {
        self.transports.contains(&w.transport())
            && (self.curve || !w.curve())
            && (!self.curve_only || w.curve())
    }

    fn run(&self, w: Workload, count: usize, tag: &str) -> Vec<(Metric, f64)> {
        (self.run)(w, count, tag)
    }
}

fn blocking<B: Blocking>(id: &'static str, name: &'static str) -> Box<dyn Entry> {
    Box::new(Library {
        id,
        name,
        transports: B::TRANSPORTS,
        curve: B::CURVE,
        curve_only: false,
        run: crate::blocking::run::<B>,
    })
}

fn nonblocking<A: Async>(id: &'static str, name: &'static str) -> Box<dyn Entry> {
    Box::new(Library {
        id,
        name,
        transports: A::TRANSPORTS,
        curve: A::CURVE,
        curve_only: false,
        run: crate::nonblocking::run::<A>,
    })
}

/// Every implementation, in the order the table lists them.
pub fn all() -> Vec<Box<dyn Entry>> {
    all_probing(true)
}

/// [`all`], looking for pyzmq's libzmq (a Python process, run at each call) only with
/// `probe`.
fn all_probing(probe: bool) -> Vec<Box<dyn Entry>> {
    let mut all = vec![
        blocking::<oxmq::Oxmq>("oxmq", "oxmq-mio"),
        nonblocking::<oxmq_tokio::OxmqTokio<false>>("tokio", "oxmq-tokio"),
        nonblocking::<oxmq_tokio::OxmqTokio<true>>("tokio1", "oxmq-tokio (one thread)"),
        blocking::<libzmq::Libzmq>("libzmq", "libzmq"),
        Box::new(Library {
            id: "oxmq-sodium",
            name: "oxmq-mio + libsodium (oxmq-sodium)",
            transports: &[Transport::Tcp],
            curve: true,
            curve_only: true,
            run: crate::blocking::run::<oxmq::OxmqSodium>,
        }),
    ];
    // Only where a libzmq with CURVE is installed (pyzmq's, or OXMQ_PERF_LIBZMQ).
    if probe && libzmq_sodium::available() {
        all.push(Box::new(Library {
            id: "libzmq-sodium",
            name: "libzmq 4.3.5 + libsodium (pyzmq's)",
            transports: &[Transport::Tcp],
            curve: true,
            curve_only: true,
            run: crate::blocking::run::<libzmq_sodium::LibzmqSodium>,
        }));
    }
    all.push(nonblocking::<omq::Omq>("omq", "ØMQ.rs (omq-tokio)"));
    all.push(blocking::<omq::OmqBlocking>(
        "omqb",
        "ØMQ.rs blocking (omq-tokio)",
    ));
    all.push(nonblocking::<zmqrs::ZmqRs>("zmqrs", "zmq.rs (zeromq)"));
    all.push(Box::new(raw::Raw));
    all
}

/// The implementation named `id`. Only the pyzmq column looks for pyzmq, so that the cells
/// of the others run no Python process (it showed in their profiles).
pub fn by_id(id: &str) -> Option<Box<dyn Entry>> {
    all_probing(id == "libzmq-sodium")
        .into_iter()
        .find(|e| e.id() == id)
}
