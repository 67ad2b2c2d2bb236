//! Receives that take ahead, as the threaded front-ends' do (`recv_many_from`): in seeds
//! with `batch-recv`, a receive on an empty buffer takes up to `receive_batch` messages at
//! once and the application gets them one by one from the buffer, later. What a buffer
//! holds from an endpoint the application then disconnects is dropped, as the front-ends
//! drop it (`disconnected_pipes`), so that no receive ever returns a message from an
//! endpoint after its `zmq_disconnect` (libzmq's `term_endpoint` lets go of the pipe at
//! once). The last promise is checked on every receive, batched or not.

use std::collections::{BTreeSet, VecDeque};

use oxmq_core::base::{ConnId, SocketBase};
use oxmq_core::{Instant, Message, PipeId, RecvError, SocketType};

use super::Sim;
use crate::oracle::FailureKind;

/// The most a receive asks for; `receive_batch` bounds it by RCVHWM.
const BATCH: usize = 64;

/// A receive's result: the message and its pipe.
pub(super) type Received = Result<(Message, Option<PipeId>), RecvError>;

/// Takes a batch from `b`: the first message (with its pipe), the rest, and how many the
/// receive asked for.
pub(super) fn take_batch(
    b: &mut SocketBase,
    now: Instant,
) -> (Received, VecDeque<(PipeId, Message)>, usize) {
    let mut out = VecDeque::new();
    let max = b.receive_batch(BATCH);
    match b.recv_many_from(&mut out, max, now) {
        Ok(_) => {
            let (p, m) = out.pop_front().expect("a batch holds at least one message");
            // A pipe the socket hosts itself has no id (`PipeId(0)`); the simulator's have.
            let pipe = (p != PipeId(0)).then_some(p);
            (Ok((m, pipe)), out, max)
        }
        Err(e) => (Err(e), out, max),
    }
}

impl Sim {
    /// Keeps what socket `s`'s receive, which asked for `asked` messages, took ahead.
    pub(super) fn take_ahead(
        &mut self,
        s: usize,
        ahead: VecDeque<(PipeId, Message)>,
        asked: usize,
    ) {
        if ahead.is_empty() {
            return;
        }
        // A batch holds at most what was asked: `receive_batch` keeps it within RCVHWM's
        // slack (and a small RCVHWM to one message at a time), the bound libzmq's HWM tests
        // count on.
        if ahead.len() + 1 > asked {
            let now = self.now;
            let what = format!(
                "s{s}'s receive asked for {asked} messages and took {}",
                ahead.len() + 1
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
        self.oracle.coverage.taken_ahead += ahead.len() as u64;
        // Everything a receive takes ahead is deliverable: the front-ends' filter
        // (`drop_undeliverable`, run after a disconnect or a subscription change) keeps it
        // all until one of those comes (the pipes the last disconnect let go of are gone,
        // and a SUB took only what its subscriptions admit).
        if let Some(b) = self.socks[s].base.as_ref() {
            let mut kept = ahead.clone();
            b.drop_undeliverable(&mut kept);
            if kept.len() != ahead.len() {
                let now = self.now;
                let what = format!(
                    "s{s} took {} messages ahead, and drop_undeliverable would drop {} of them \
                     with no disconnect or subscription change since",
                    ahead.len(),
                    ahead.len() - kept.len()
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
        }
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

    /// Socket `s` disconnected `ep`: its pipes were `before` (with their connections) and
    /// are `after`, and it named `told` as let go of (`disconnected_pipes`). The pipes that
    /// went over a connection dialed to `ep` are the endpoint's, and each must be among
    /// `told`, or a driver would keep what it took ahead from them; a pipe that went without
    /// such a connection counts only if `told` names it. No receive may return a message
    /// from the endpoint's pipes again. What the buffer holds from `told` is dropped, as a
    /// driver does, and `drop_undeliverable` (the call a driver makes) must drop that and no
    /// more.
    pub(super) fn let_go(
        &mut self,
        s: usize,
        ep: &str,
        before: &[(PipeId, Option<ConnId>)],
        after: &BTreeSet<PipeId>,
        told: &[PipeId],
    ) {
        let dialed = |c: ConnId| self.dialed.get(&(s, c)).map(String::as_str);
        let mut untold = Vec::new();
        let mut gone = Vec::new();
        for &(p, conn) in before.iter().filter(|(p, _)| !after.contains(p)) {
            let ours = match conn.and_then(dialed) {
                Some(e) => e == ep,
                // No connection dialed from here (a connect's queue between connections,
                // an accepted peer's pipe that ended meanwhile): only what the core names.
                None => told.contains(&p),
            };
            if !ours {
                continue;
            }
            if !told.contains(&p) {
                untold.push(p);
            }
            gone.push(p);
        }
        for p in gone {
            self.let_go.insert((s, p));
        }
        if !untold.is_empty() {
            let now = self.now;
            let what = format!(
                "s{s}'s disconnect of {ep} let go of pipes {untold:?} but named only {told:?} \
                 (disconnected_pipes): a driver would keep what it took ahead from them"
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
        if let Some(q) = self.ahead.get_mut(&s) {
            let n = q.len();
            // The front-ends drop with `drop_undeliverable`: it must drop exactly what came
            // over a pipe let go of, and keep the rest (from pipes it did not let go of, live
            // or already ended).
            let mut kept = q.clone();
            if let Some(b) = self.socks[s].base.as_ref() {
                b.drop_undeliverable(&mut kept);
            }
            q.retain(|(p, _)| !told.contains(p));
            self.oracle.coverage.dropped_ahead += (n - q.len()) as u64;
            self.oracle.coverage.kept_ahead += q.len() as u64;
            if kept != *q {
                let now = self.now;
                let what = format!(
                    "s{s}'s disconnect of {ep}: of {n} messages taken ahead a driver kept {} \
                     (drop_undeliverable), but {} came over pipes it did not let go of",
                    kept.len(),
                    q.len()
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
        }
    }

    /// A receive on socket `s` returned a message from `pipe` (`buffered`: from what an
    /// earlier receive took ahead): never one the application disconnected. (A SUB's own
    /// look-ahead of one message, inside the pattern, is exempt: libzmq's `xsub_t` keeps it
    /// across the pipe's end, and so does ours. The driver's buffer is not.)
    pub(super) fn check_let_go(
        &mut self,
        s: usize,
        kind: SocketType,
        pipe: Option<PipeId>,
        buffered: bool,
    ) {
        let Some(p) = pipe.filter(|p| self.let_go.contains(&(s, *p))) else {
            return;
        };
        if !buffered && matches!(kind, SocketType::Sub | SocketType::XSub) {
            return;
        }
        // An XPUB reads each message as it arrives (subscriptions must take effect whether
        // or not the application reads), and libzmq's keeps what it read across the pipe's
        // end (`receive_batch` is 1 for it: nothing of it is ever in the buffer).
        if kind == SocketType::XPub {
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
    /// goes, as the front-ends drop it (`drop_undeliverable`, which asks `Socket::admits`).
    ///
    /// The subscriber's own view (its prefixes as the oracle holds them, set before the
    /// option) must agree with each message kept or dropped: nothing it still wants may go,
    /// nothing it left may stay.
    pub(super) fn refilter_ahead(&mut self, s: usize) {
        let (Some(q), Some(b)) = (self.ahead.get_mut(&s), self.socks[s].base.as_ref()) else {
            return;
        };
        let mut wrong = None;
        // Dropped as the front-ends drop (`drop_undeliverable`); what stays is in order, so
        // each message taken ahead was kept if it is the next one left.
        let before: Vec<Message> = q.iter().map(|(_, m)| m.clone()).collect();
        b.drop_undeliverable(q);
        let mut left = q.iter().map(|(_, m)| m).peekable();
        for m in &before {
            let keep = left.next_if(|k| *k == m).is_some();
            let head = m.frames().first().map_or(&[][..], |f| &f[..]);
            if self.oracle.sub_wants(s as u64, head) == Some(!keep) && wrong.is_none() {
                wrong = Some((keep, String::from_utf8_lossy(head).into_owned()));
            }
        }
        self.oracle.coverage.refiltered += 1;
        if let Some((kept, head)) = wrong {
            let now = self.now;
            let what = if kept {
                format!(
                    "s{s} kept a message taken ahead ({head:?}) that its subscriptions now exclude"
                )
            } else {
                format!("s{s} dropped a message taken ahead ({head:?}) that its subscriptions still want")
            };
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Socket `s` is gone: so is what it took ahead.
    pub(super) fn forget_ahead(&mut self, s: usize) {
        self.ahead.remove(&s);
        self.let_go.retain(|k| k.0 != s);
    }
}
