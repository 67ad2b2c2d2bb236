//! Receives that take ahead, as the threaded front-ends' do (`recv_many_from`): in seeds
//! with `batch-recv`, a receive on an empty buffer takes up to `receive_batch` messages at
//! once and the application gets them one by one from the buffer, later. What a buffer
//! holds from an endpoint the application then disconnects is dropped, as the front-ends
//! drop it (`disconnected_pipes`), so that no receive ever returns a message from an
//! endpoint after its `zmq_disconnect` (libzmq's `term_endpoint` lets go of the pipe at
//! once). The last promise is checked on every receive, batched or not.

use std::collections::VecDeque;

use oxmq_core::base::SocketBase;
use oxmq_core::{Instant, Message, PipeId, RecvError, SocketType};

use super::Sim;
use crate::oracle::FailureKind;

/// The most a receive asks for; `receive_batch` bounds it by RCVHWM.
const BATCH: usize = 64;

/// A receive's result: the message and its pipe.
pub(super) type Received = Result<(Message, Option<PipeId>), RecvError>;

/// Takes a batch from `b`: the first message (with its pipe) and the rest.
pub(super) fn take_batch(
    b: &mut SocketBase,
    now: Instant,
) -> (Received, VecDeque<(PipeId, Message)>) {
    let mut out = VecDeque::new();
    let max = b.receive_batch(BATCH);
    match b.recv_many_from(&mut out, max, now) {
        Ok(_) => {
            let (p, m) = out.pop_front().expect("a batch holds at least one message");
            // A pipe the socket hosts itself has no id (`PipeId(0)`); the simulator's have.
            let pipe = (p != PipeId(0)).then_some(p);
            (Ok((m, pipe)), out)
        }
        Err(e) => (Err(e), out),
    }
}

impl Sim {
    /// Keeps what socket `s`'s receive took ahead.
    pub(super) fn take_ahead(&mut self, s: usize, ahead: VecDeque<(PipeId, Message)>) {
        if ahead.is_empty() {
            return;
        }
        self.oracle.coverage.taken_ahead += ahead.len() as u64;
        // The fair-queue oracle judged the receive that took them; what the application gets
        // from the buffer is not a choice among pipes, so the next receive starts afresh.
        self.oracle.fq.forget(s as u64);
        self.ahead.entry(s).or_default().extend(ahead);
    }

    /// The next message socket `s` took ahead, if any.
    pub(super) fn taken_ahead(&mut self, s: usize) -> Option<(PipeId, Message)> {
        let q = self.ahead.get_mut(&s)?;
        let next = q.pop_front();
        // Between the receives the fair-queue oracle judges, the pattern served these: the
        // next judged receive starts a new epoch.
        self.oracle.fq.forget(s as u64);
        if q.is_empty() {
            self.ahead.remove(&s);
        }
        next
    }

    /// Socket `s`'s disconnect let go of `pipes`: what it took ahead from them is dropped,
    /// and no receive may return a message from them again.
    pub(super) fn let_go(&mut self, s: usize, pipes: &[PipeId]) {
        for &p in pipes {
            self.let_go.insert((s, p));
        }
        if let Some(q) = self.ahead.get_mut(&s) {
            let before = q.len();
            q.retain(|(p, _)| !pipes.contains(p));
            self.oracle.coverage.dropped_ahead += (before - q.len()) as u64;
        }
    }

    /// A receive on socket `s` returned a message from `pipe`: never one the application
    /// disconnected. (A SUB's own look-ahead of one message is exempt: libzmq's `xsub_t`
    /// keeps it across the pipe's end, and so does ours.)
    pub(super) fn check_let_go(&mut self, s: usize, kind: SocketType, pipe: Option<PipeId>) {
        let Some(p) = pipe.filter(|p| self.let_go.contains(&(s, *p))) else {
            return;
        };
        if matches!(kind, SocketType::Sub | SocketType::XSub) {
            return;
        }
        let now = self.now;
        let what = format!(
            "s{s} ({kind}) received a message from pipe {}, whose endpoint it had disconnected",
            p.0
        );
        self.oracle.fail(FailureKind::Safety, now, what);
    }

    /// Socket `s`'s subscriptions changed: what it took ahead and would no longer hand up
    /// goes, as the front-ends drop it (`Socket::admits`).
    pub(super) fn refilter_ahead(&mut self, s: usize) {
        let (Some(q), Some(b)) = (self.ahead.get_mut(&s), self.socks[s].base.as_ref()) else {
            return;
        };
        q.retain(|(_, m)| b.socket().admits(m));
    }

    /// Socket `s` is gone: so is what it took ahead.
    pub(super) fn forget_ahead(&mut self, s: usize) {
        self.ahead.remove(&s);
        self.let_go.retain(|k| k.0 != s);
    }
}
