//! The implementations measured. Each is one [`Entry`]: a blocking library implements
//! [`crate::blocking::Blocking`] and an async one [`crate::nonblocking::Async`] (a socket
//! type with bind/connect/send/recv, some forty lines), then joins [`all`] as one line.

mod libzmq;
mod omq;
mod oxmq;
mod raw;
mod zmqrs;

use crate::spec::{Metric, Workload};

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

/// Every implementation, in the order the table lists them.
pub fn all() -> Vec<Box<dyn Entry>> {
    vec![
        Box::new(crate::blocking::Entry::new(
            "oxmq",
            "oxmq-mio",
            oxmq::Oxmq::new,
        )),
        Box::new(crate::blocking::Entry::new(
            "libzmq",
            "libzmq",
            libzmq::Libzmq::new,
        )),
        Box::new(crate::nonblocking::Entry::new(
            "omq",
            "ØMQ.rs (omq-tokio)",
            omq::Omq::new,
        )),
        Box::new(crate::nonblocking::Entry::new(
            "zmqrs",
            "zmq.rs (zeromq)",
            zmqrs::ZmqRs::new,
        )),
        Box::new(raw::Raw),
    ]
}

pub fn by_id(id: &str) -> Option<Box<dyn Entry>> {
    all().into_iter().find(|e| e.id() == id)
}
