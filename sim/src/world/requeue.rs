//! What a session does with its pipe when its connection breaks (libzmq's
//! `session_base_t::engine_error` and ZMQ_IMMEDIATE): a connect session without IMMEDIATE
//! keeps the pipe and what is queued in it, and delivers that queue on a later connection.
//! (With IMMEDIATE, and for every accepted connection, the session lets the pipe go; when,
//! depends on the commands in flight, so that is not checked here.)

use oxmq_core::base::ConnId;
use oxmq_core::{Instant, PipeId};

use super::Sim;
use crate::oracle::FailureKind;

/// A pipe's state as its connection broke.
#[derive(Debug)]
pub(super) struct Broken {
    pipe: PipeId,
    /// Messages waiting in it to be transmitted.
    queued: usize,
    /// Messages its session had taken from it so far.
    taken: u64,
}

/// A queue kept across a reconnection, still owed to the next connection.
#[derive(Debug)]
pub(super) struct Requeued {
    /// The session's count of messages taken that shows the queue went out.
    target: u64,
    queued: usize,
    since: Instant,
}

impl Sim {
    /// Socket `s`'s connection `conn` is about to see its end: what its pipe holds.
    pub(super) fn before_break(&self, s: usize, conn: ConnId) -> Option<Broken> {
        let b = self.socks[s].base.as_ref()?;
        let sock = b.socket();
        let pipe = sock.pipe_ids().find(|&p| b.pipe_conn(p) == Some(conn))?;
        let stats = b.pipe(pipe)?;
        let end = sock.pipe_end(pipe)?;
        let queued = stats.outbound_len();
        Some(Broken {
            pipe,
            queued,
            taken: end.msgs_kept() - queued as u64,
        })
    }

    /// Socket `s`'s connection `conn` saw its end and the socket settled: its session kept
    /// the pipe and its queue (a connect without IMMEDIATE), or let the pipe go.
    pub(super) fn after_break(&mut self, s: usize, conn: ConnId, was: Broken) {
        let now = self.now;
        let Some(b) = self.socks[s].base.as_ref() else {
            return;
        };
        if self.socks[s].close.is_some() {
            return;
        }
        // With RECONNECT_IVL -1 or 0 the session ends with its connection, and its pipe with it
        // (libzmq's `reconnect` terminates the endpoint instead of dialing again).
        let dialed = self.dialed.contains_key(&(s, conn));
        let ends = dialed && !b.config().reconnects();
        let keeps = dialed && !ends && !b.config().immediate;
        let held = b.pipe(was.pipe);
        let p = was.pipe.0;
        if ends && held.is_some() {
            let what = format!(
                "s{s}'s connect session with RECONNECT_IVL -1 or 0 kept pipe {p} when c{} broke: \
                 libzmq ends the session, and its pipe, instead of reconnecting",
                conn.0
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
        match (keeps, held) {
            (true, None) => {
                let what = format!(
                    "s{s}'s connect session without IMMEDIATE let pipe {p} go when c{} broke \
                     ({} messages queued): libzmq keeps the pipe and its queue for the next \
                     connection",
                    conn.0, was.queued
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            (true, Some(stats)) if stats.outbound_len() < was.queued => {
                let what = format!(
                    "s{s}'s pipe {p} held {} queued messages when c{} broke and {} after",
                    was.queued,
                    conn.0,
                    stats.outbound_len()
                );
                self.oracle.fail(FailureKind::Safety, now, what);
            }
            (true, Some(_)) if was.queued > 0 => {
                self.requeued.insert(
                    (s, was.pipe),
                    Requeued {
                        target: was.taken + was.queued as u64,
                        queued: was.queued,
                        since: now,
                    },
                );
            }
            _ => {}
        }
    }

    /// Socket `s` settled: queues kept across a reconnection that went out are done with
    /// (and those whose pipe went, with the socket's disconnect or close, are not owed).
    pub(super) fn check_requeued(&mut self, s: usize) {
        let keys: Vec<(usize, PipeId)> = self
            .requeued
            .range((s, PipeId(0))..=(s, PipeId(u64::MAX)))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let Some(taken) = self.taken(k) else {
                self.requeued.remove(&k);
                continue;
            };
            if self.requeued.get(&k).is_some_and(|r| taken >= r.target) {
                let r = self.requeued.remove(&k).expect("just seen");
                self.oracle.coverage.requeued += r.queued as u64;
            }
        }
    }

    /// Messages the session of pipe `k` has taken so far (`None`: the pipe is gone).
    fn taken(&self, (s, pipe): (usize, PipeId)) -> Option<u64> {
        let b = self.socks[s].base.as_ref()?;
        if self.socks[s].close.is_some() {
            return None;
        }
        let stats = b.pipe(pipe)?;
        let end = b.socket().pipe_end(pipe)?;
        Some(end.msgs_kept() - stats.outbound_len() as u64)
    }

    /// After the queues drained: every queue kept across a reconnection went out on a later
    /// connection (its socket and pipe still live).
    pub fn check_requeues_delivered(&mut self) {
        let now = self.now;
        let keys: Vec<(usize, PipeId)> = self.requeued.keys().copied().collect();
        for k in keys {
            self.check_requeued(k.0);
        }
        if let Some(((s, p), r)) = self.requeued.iter().next() {
            let what = format!(
                "s{s}'s pipe {} kept {} queued messages across a reconnection at {:.3}s, \
                 and no later connection took them",
                p.0,
                r.queued,
                r.since.as_nanos() as f64 / 1e9
            );
            self.oracle.fail(FailureKind::Liveness, now, what);
        }
    }
}

impl Sim {
    /// Once the queues drained, every session half of an open socket is one its connects or
    /// live connections account for: a session whose accepted connection ended, or whose
    /// connect was undone, has ended completely (issue 11's leak: accepted sessions that
    /// outlived their connection kept their fd and buffers).
    pub fn check_sessions_ended(&mut self) {
        let now = self.now;
        for s in 0..self.socks.len() {
            if self.socks[s].base.is_none() || self.socks[s].close.is_some() {
                continue;
            }
            self.check_inproc_links(s);
            if self.oracle.failure().is_some() {
                return;
            }
            let Some(b) = self.socks[s].base.as_ref() else {
                continue;
            };
            // An inproc end counts while it lives, and until the end of file that ends it
            // has reached the socket. A connect over inproc that ended (its binder went, or
            // refused it) is not made again, as in libzmq.
            let inproc_ends: Vec<(usize, ConnId)> = self
                .inproc_seen
                .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
                .filter(|k| self.is_inproc(k.0, k.1) || self.inproc_eofs.contains_key(k))
                .copied()
                .collect();
            let connects = self
                .connects
                .range((s, String::new())..)
                .take_while(|(k, _)| k.0 == s)
                .filter(|(k, _)| {
                    !k.1.starts_with("inproc://")
                        || inproc_ends
                            .iter()
                            .any(|c| self.dialed.get(c).is_some_and(|d| *d == k.1))
                })
                .count();
            let accepted = self
                .ends
                .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
                .filter(|(k, &(st, _))| {
                    !self.dialed.contains_key(k)
                        && self
                            .streams
                            .get(&st)
                            .is_some_and(|x| x.ends.iter().all(|e| e.open))
                })
                .count();
            let inproc = inproc_ends
                .iter()
                .filter(|k| !self.dialed.contains_key(k))
                .count();
            let sessions = b.session_count();
            let links = b.link_count();
            if !b.has_mail() && (links != sessions || sessions < connects) {
                let what = format!(
                    "s{s} ({}): its socket half holds {links} links, {sessions} sessions and \
                     inproc links remain, for {connects} connects",
                    self.socks[s].kind
                );
                self.oracle.fail(FailureKind::Liveness, now, what);
                return;
            }
            if sessions > connects + accepted + inproc {
                let what = format!(
                    "s{s} ({}) holds {sessions} sessions for {connects} connects, {accepted} \
                     accepted connections and {inproc} accepted inproc links: a session \
                     outlived its connection",
                    self.socks[s].kind
                );
                self.oracle.fail(FailureKind::Liveness, now, what);
                return;
            }
            self.oracle.coverage.sessions_counted += sessions as u64;
        }
    }
}
