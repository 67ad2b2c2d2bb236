//! Workloads, one per ZeroMQ pattern: applications that send numbered messages, receive and
//! check them, and owe probes once the network has healed.

mod pair;
mod pipeline;
mod pubsub;
mod reqrep;
mod router;

use oxmq_core::{Instant, SocketOption, SocketType};
use rand::Rng;

use crate::profile::{Pattern, Profile};
use crate::world::{Cx, Sim};

/// Adds the hosts of `profile`'s workload to `sim`.
pub fn build(sim: &mut Sim, profile: &Profile) {
    match profile.pattern {
        Pattern::Pipeline => pipeline::build(sim, profile),
        Pattern::PubSub => pubsub::build(sim, profile),
        Pattern::ReqRep => reqrep::build(sim, profile),
        Pattern::DealerRouter => router::build(sim, profile),
        Pattern::Pair => pair::build(sim, profile),
    }
}

/// Opens a socket with the profile's HWMs and lifecycle options, plus `extra`.
fn open(cx: &mut Cx<'_>, p: &Profile, kind: SocketType, extra: &[SocketOption]) -> u64 {
    let mut opts = vec![
        SocketOption::SndHwm(p.sock.sndhwm),
        SocketOption::RcvHwm(p.sock.rcvhwm),
    ];
    opts.extend_from_slice(extra);
    cx.open(kind, p.sock.base.clone(), &opts)
}

/// How many frames the next message has.
fn frames(cx: &mut Cx<'_>, p: &Profile) -> usize {
    cx.rng().random_range(1..=p.frames_max)
}

/// The endpoint of `port` on host `h`.
fn ep(cx: &Cx<'_>, h: usize, port: u16) -> String {
    format!("tcp://{}:{port}", cx.addr_of(h))
}

/// Whether applications send in this phase.
fn sending(cx: &Cx<'_>) -> bool {
    use crate::world::Phase::*;
    matches!(cx.phase(), Faults | Settle | Probe)
}

/// Whether what is sent now is a probe.
fn probing(cx: &Cx<'_>) -> bool {
    cx.phase() == crate::world::Phase::Probe
}

/// The deadline of a probe sent now.
fn deadline(cx: &Cx<'_>, p: &Profile, hops: u32) -> Instant {
    cx.now() + p.probe_bound() * hops
}

/// Whether to churn an endpoint now (see [`Profile::churn`]): rarely, during the faults.
fn churn(cx: &mut Cx<'_>, p: &Profile) -> bool {
    p.churn && cx.phase() == crate::world::Phase::Faults && crate::rng::chance(cx.rng(), 0.03)
}

/// Disconnects `s` from `ep` and connects it again at once (a new session, a new queue).
fn reconnect(cx: &mut Cx<'_>, s: u64, ep: &str) {
    cx.disconnect(s, ep);
    cx.connect(s, ep);
}

/// Unbinds `s` from `ep` and binds it again at once.
fn rebind(cx: &mut Cx<'_>, s: u64, ep: &str) {
    cx.unbind(s, ep);
    cx.bind(s, ep);
}
