//! inproc between the sockets of one host (one process): the world plays the part of a
//! core `Context`, per host. A connect joins the socket bound to its name when the binder's
//! mailbox gets to it; pipe commands and ends of file travel through each socket's mailbox,
//! first in first out, a little later, as another thread would deliver them. Messages
//! themselves pass through the pipe storage the two sockets share.

use std::collections::BTreeSet;
use std::time::Duration;

use oxmq_core::base::{ConnId, ListenerId};
use oxmq_core::inproc::{Connect, Registry};
use oxmq_core::pipe::PipeCommand;
use oxmq_core::{Instant, PipeId};
use rand::Rng;

use super::{Ev, Mutation, Sim};
use crate::oracle::FailureKind;

/// What crosses between the two sockets of an inproc connection (no bytes: the pipe's
/// messages pass through storage both share).
#[derive(Debug)]
pub(super) enum InprocEv {
    /// A pipe command from the other end.
    Command(PipeCommand),
    /// The other end closed the connection.
    Eof,
}

impl Sim {
    /// `InprocBind`: registers the name on this host, or fails with EADDRINUSE.
    pub(super) fn inproc_bind(&mut self, s: usize, listener: ListenerId, name: String) {
        let now = self.now;
        let ep = format!("inproc://{name}");
        let Ok(waiting) = self.inproc_reg(s).bind(&name, s, listener) else {
            self.bind_failed(s, listener, &ep);
            return;
        };
        let base = self.socks[s].base.as_mut().expect("acting socket is alive");
        base.handle_listening(listener, &ep, now);
        self.listening(s, listener, &ep);
        self.log(format_args!("s{s} listening {ep}"));
        for (c, conn) in waiting {
            self.inproc_found(c, conn, s, listener);
        }
    }

    /// The inproc registry of socket `s`'s host (inproc is one process's business).
    fn inproc_reg(&mut self, s: usize) -> &mut Registry<usize> {
        let h = self.socks[s].host;
        self.registries.entry(h).or_default()
    }

    /// The other end of socket `s`'s inproc connection `conn`, once joined.
    pub(super) fn inproc_peer(&self, s: usize, conn: ConnId) -> Option<(usize, ConnId)> {
        self.registries.get(&self.socks[s].host)?.peer((s, conn))
    }

    /// Socket `s`'s inproc links: each of its ends with the other end.
    pub(super) fn inproc_links_of(&self, s: usize) -> Vec<((usize, ConnId), (usize, ConnId))> {
        self.registries
            .get(&self.socks[s].host)
            .map(|r| r.links_of(s))
            .unwrap_or_default()
    }

    /// `InprocConnect`: joins the socket bound to the name, or waits for one to bind it.
    pub(super) fn inproc_connect(&mut self, s: usize, conn: ConnId, name: String) {
        let ep = format!("inproc://{name}");
        self.log(format_args!("s{s} connect c{} {ep}", conn.0));
        self.dialed.insert((s, conn), ep);
        self.inproc_seen.insert((s, conn));
        // No bind can come once the context is terminated: see `terminate_context`.
        let terminated = self.terminated.contains(&self.socks[s].host)
            && self.mutation != Mutation::TermKeepsWaitingConnects;
        match self.inproc_reg(s).connect(&name, (s, conn), terminated) {
            Connect::Bound(b, listener) => self.inproc_found(s, conn, b, listener),
            Connect::Ends => self.post_eof((s, conn)),
            Connect::Waits => {}
        }
    }

    /// Terminates host `h`'s context, as `zmq_ctx_term` after its application closed its
    /// sockets: no bind can come any more, so every inproc connect still waiting for one ends
    /// as if its peer had closed, dropping its queue (libzmq binds each pending name and
    /// closes it), and one made from now on ends at once. A socket lingering on such a queue
    /// then finishes closing; the world's last check requires every close to have finished.
    pub(crate) fn terminate_context(&mut self, h: usize) {
        self.terminated.insert(h);
        if self.mutation == Mutation::TermKeepsWaitingConnects {
            return;
        }
        let waiting = self.registries.entry(h).or_default().take_all_waiting();
        for (name, (s, conn)) in waiting {
            self.log(format_args!(
                "s{s} c{}: context terminated, inproc://{name} will not be bound",
                conn.0
            ));
            self.post_eof((s, conn));
            self.oracle.coverage.term_ended_connects += 1;
        }
    }

    /// `Close` of an inproc connection: the peer learns it through its mailbox.
    pub(super) fn inproc_close(&mut self, s: usize, conn: ConnId) {
        self.log(format_args!("s{s} close inproc c{}", conn.0));
        let peer = self.inproc_reg(s).close((s, conn));
        self.inproc_pipes.remove(&(s, conn));
        self.inproc_hwm.remove(&(s, conn));
        if let Some(peer) = peer {
            self.inproc_pipes.remove(&peer);
            self.inproc_hwm.remove(&peer);
            self.post_eof(peer);
        }
    }

    /// Something from an inproc peer reaches socket `to`'s mailbox.
    pub(super) fn inproc_deliver(&mut self, to: usize, conn: ConnId, what: InprocEv) {
        let now = self.now;
        if self.socks[to].base.is_none() {
            self.inproc_eofs.remove(&(to, conn));
            return;
        }
        if let (InprocEv::Command(PipeCommand::ActivateRead), Some(&p)) =
            (&what, self.inproc_pipes.get(&(to, conn)))
        {
            if let Some(n) = self.inproc_wakes.get_mut(&(to, p)) {
                *n -= 1;
                if *n == 0 {
                    self.inproc_wakes.remove(&(to, p));
                }
            }
        }
        if let InprocEv::Command(PipeCommand::Hwm { .. } | PipeCommand::PeerHwms { .. }) = &what {
            // Handling it reports the reads so far, off the low-water step.
            self.inproc_reports.remove(&(to, conn));
        }
        let base = self.socks[to].base.as_mut().expect("checked above");
        match what {
            InprocEv::Command(cmd) => {
                self.trace
                    .record(now, format_args!("s{to} c{} <- {cmd:?}", conn.0));
                base.handle_inproc_command(conn, cmd, now)
            }
            InprocEv::Eof => {
                if let Some(n) = self.inproc_eofs.get_mut(&(to, conn)) {
                    *n -= 1;
                    if *n == 0 {
                        self.inproc_eofs.remove(&(to, conn));
                    }
                }
                self.log(format_args!("s{to} c{} <- inproc peer closed", conn.0));
                let base = self.socks[to].base.as_mut().expect("checked above");
                base.handle_eof(conn, now);
            }
        }
        self.settle(to);
        let h = self.socks[to].host;
        self.notify(h);
    }

    /// Carries a pipe command `s` wrote for the peer of its inproc connection `conn` to
    /// that peer's mailbox (nowhere if the peer is gone).
    pub(super) fn inproc_command(&mut self, s: usize, conn: ConnId, cmd: PipeCommand) {
        // Nowhere before the join: the binder finds the pipe's contents when it takes the
        // end (the front-ends hold these commands instead: see `Registry::route`).
        let Some((to, pconn)) = self.inproc_peer(s, conn) else {
            return;
        };
        if let PipeCommand::ActivateWrite(read) = cmd {
            self.check_read_report(s, conn, to, read);
        }
        if cmd == PipeCommand::ActivateRead {
            if self.mutation == Mutation::LoseInprocWakeups {
                return;
            }
            if let Some(&p) = self.inproc_pipes.get(&(to, pconn)) {
                *self.inproc_wakes.entry((to, p)).or_insert(0) += 1;
            }
        }
        self.post(to, pconn, InprocEv::Command(cmd));
    }

    /// The HWM of an inproc pipe from writer `w` to reader `r`, as the application set it:
    /// the writer's SNDHWM plus the reader's RCVHWM, or 0 (no limit) if either is 0, as
    /// libzmq's inproc connect sums them.
    fn inproc_pipe_hwm(&self, w: usize, r: usize) -> usize {
        let snd = self.hwm_set.get(&w).map_or(0, |h| h.0);
        let rcv = self.hwm_set.get(&r).map_or(0, |h| h.1);
        if snd == 0 || rcv == 0 {
            0
        } else {
            snd + rcv
        }
    }

    /// Reader `s` reports `read` messages read in all on inproc connection `conn` to its
    /// writer `to`. A reader reports once per low-water mark of the pipe's HWM, as libzmq's
    /// pipe sends `activate_write` every LWM reads (LWM = (HWM + 1) / 2, the HWM being the
    /// writer's SNDHWM plus the reader's RCVHWM over inproc), never per message: that
    /// command traffic is what a threaded front-end pays a wake-up for. So each report
    /// names a multiple of the step, beyond the last. Checked where HWMs never change live
    /// (the step is then known). The first report of an end, and the first after it handled
    /// an HWM change, may fall off the step: it tells the writer what was read so far.
    fn check_read_report(&mut self, s: usize, conn: ConnId, to: usize, read: u64) {
        if self.live_hwm {
            return;
        }
        let prev = self.inproc_reports.insert((s, conn), read);
        let Some(prev) = prev else {
            return;
        };
        let hwm = self.inproc_pipe_hwm(to, s);
        let step = hwm.div_ceil(2) as u64;
        self.oracle.coverage.read_reports += 1;
        if step == 0 || read <= prev || !read.is_multiple_of(step) {
            let now = self.now;
            let what = format!(
                "s{s} reported {read} messages read on inproc c{} after {prev}, where the \
                 pipe's HWM {hwm} makes a report due every {step} reads",
                conn.0
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }

    /// Whether pipe `p` of socket `s` has a message waiting to be read. A pipe whose session
    /// has gone stays attached only while it has one. For an inproc pipe the count comes
    /// from the peer's end; if the peer is gone, it is taken as empty (so fair-queueing
    /// claims nothing about it).
    pub(super) fn waiting_in(&self, s: usize, p: PipeId) -> bool {
        let Some(base) = self.socks[s].base.as_ref() else {
            return false;
        };
        if let Some(&(peer, pp)) = self.inproc_ends.get(&(s, p)) {
            if self.inproc_wakes.contains_key(&(s, p)) {
                return false;
            }
            let (Some(mine), Some(theirs)) = (
                base.socket().pipe_end(p),
                self.socks[peer]
                    .base
                    .as_ref()
                    .and_then(|b| b.socket().pipe_end(pp)),
            ) else {
                return false;
            };
            return theirs.msgs_kept() > mine.msgs_read();
        }
        if self.inproc_pipe_ids.contains(&(s, p)) {
            return false;
        }
        base.pipe(p).is_none_or(|x| x.inbound_len() > 0)
    }

    /// Whether `conn` of socket `s` is an inproc connection (joined, joining or waiting).
    pub(super) fn is_inproc(&self, s: usize, conn: ConnId) -> bool {
        self.registries
            .get(&self.socks[s].host)
            .is_some_and(|r| r.is_conn(s, conn))
    }

    /// Queues an end of file for inproc connection end `to`: its peer has gone.
    fn post_eof(&mut self, to: (usize, ConnId)) {
        *self.inproc_eofs.entry(to).or_insert(0) += 1;
        self.post(to.0, to.1, InprocEv::Eof);
    }

    /// Queues `what` for socket `to`'s mailbox: it arrives a little later (the other
    /// thread's turn), after everything queued for that mailbox before it.
    pub(super) fn post(&mut self, to: usize, conn: ConnId, what: InprocEv) {
        let at = self.mailbox_slot(to);
        self.schedule(at, Ev::Inproc { to, conn, what });
    }

    /// When something posted now to socket `to`'s mailbox arrives.
    pub(super) fn mailbox_slot(&mut self, to: usize) -> Instant {
        let delay = Duration::from_nanos(self.mailbox_rng.random_range(0..=50_000));
        let floor = self
            .mailbox_floor
            .get(&to)
            .copied()
            .unwrap_or(Instant::ZERO);
        let at = (self.now + delay).max(floor);
        self.mailbox_floor.insert(to, at);
        at
    }

    /// An inproc connect found its name bound: the two sockets join when the binder's
    /// mailbox gets to it (after what was posted to it before, such as an earlier peer's
    /// end of file), not inside the drain of either.
    pub(super) fn inproc_found(&mut self, c: usize, conn: ConnId, b: usize, listener: ListenerId) {
        self.inproc_reg(c).begin_join((c, conn));
        let at = self.mailbox_slot(b);
        self.schedule(
            at,
            Ev::InprocJoin {
                connecter: c,
                conn,
                binder: b,
                listener,
            },
        );
    }

    /// Joins connecter `c`'s connection `conn` to binder `b`'s `listener`, as a core
    /// `Context` does: the connecter's pipe (which may hold messages sent before the bind)
    /// hands its far end to the binder's pattern, and the two share that pipe.
    pub(super) fn inproc_join(&mut self, c: usize, conn: ConnId, b: usize, listener: ListenerId) {
        let now = self.now;
        // No longer joining from here on, whatever comes; a close meanwhile cancelled it.
        let joining = self.inproc_reg(c).is_joining((c, conn));
        if joining {
            self.inproc_reg(c).finish_join((c, conn), None);
        }
        if !joining || self.socks[c].base.is_none() {
            return;
        }
        let accepts = self.socks[b]
            .base
            .as_ref()
            .is_some_and(|x| x.accepts_on(listener));
        if !accepts {
            // The binder is closing: the connect fails like a refused dial.
            self.log(format_args!("s{c} c{} inproc join refused", conn.0));
            if let Some(base) = self.socks[c].base.as_mut() {
                base.handle_eof(conn, now);
            }
            self.settle(c);
            return;
        }
        let mut bpeer = self.socks[b].base.as_ref().expect("accepts").inproc_peer();
        if self.mutation == Mutation::InprocHwmInflated {
            self.log(format_args!("s{c} MUTATION: told s{b}'s HWMs are 1000000"));
            bpeer.hwms = (1_000_000, 1_000_000);
        }
        let cbase = self.socks[c].base.as_mut().expect("checked above");
        let cpeer = cbase.inproc_peer();
        let end = cbase.handle_inproc_connected(conn, bpeer, now);
        let cpipe = cbase.inproc_pipe(conn);
        let Some(end) = end else {
            // The connecter refused the binder: it closed its side.
            self.settle(c);
            return;
        };
        let bbase = self.socks[b].base.as_mut().expect("accepts");
        let accepted = bbase.handle_inproc_accepted(listener, cpeer, end, now);
        let bpipe = accepted.and_then(|bconn| bbase.inproc_pipe(bconn));
        self.inproc_pipe_ids.extend(
            cpipe
                .map(|p| (c, p))
                .into_iter()
                .chain(bpipe.map(|p| (b, p))),
        );
        match accepted {
            Some(bconn) => {
                self.inproc_seen.insert((b, bconn));
                self.log(format_args!(
                    "s{c} c{} -> s{b} c{} inproc joined",
                    conn.0, bconn.0
                ));
                self.inproc_reg(c).finish_join((c, conn), Some((b, bconn)));
                if let (Some(cp), Some(bp)) = (cpipe, bpipe) {
                    self.inproc_pipes.insert((c, conn), cp);
                    self.inproc_pipes.insert((b, bconn), bp);
                    self.inproc_ends.insert((c, cp), (b, bp));
                    self.inproc_ends.insert((b, bp), (c, cp));
                }
            }
            None => {
                let cbase = self.socks[c].base.as_mut().expect("checked above");
                cbase.handle_eof(conn, now);
            }
        }
        self.settle(c);
        self.settle(b);
        let (hc, hb) = (self.socks[c].host, self.socks[b].host);
        self.notify(hc);
        if hb != hc {
            self.notify(hb);
        }
    }

    /// Socket `s` is gone: its inproc names, connects and links with it (a link's other end
    /// learns of it as an end of file).
    pub(super) fn forget_inproc(&mut self, s: usize) {
        self.inproc_ends.retain(|k, v| k.0 != s && v.0 != s);
        self.inproc_pipe_ids.retain(|k| k.0 != s);
        self.inproc_wakes.retain(|k, _| k.0 != s);
        self.inproc_seen.retain(|x| x.0 != s);
        self.inproc_reports.retain(|x, _| x.0 != s);
        self.inproc_eofs.retain(|x, _| x.0 != s);
        for (k, peer) in self.inproc_reg(s).forget(s) {
            self.inproc_pipes.remove(&peer);
            self.inproc_hwm.remove(&peer);
            self.post_eof(peer);
            self.inproc_pipes.remove(&k);
            self.inproc_hwm.remove(&k);
        }
    }

    /// An inproc pipe holds at most the writer's SNDHWM plus the reader's RCVHWM (libzmq
    /// gives each direction that sum, or no limit if either is 0). After a live change the
    /// core may hold a pipe to less; the bound is the largest sum the pipe has had, since a
    /// change reaches the other socket only through its mailbox.
    pub(super) fn check_inproc_hwm(&mut self, s: usize) {
        let links = self.inproc_links_of(s);
        for (me, peer) in links {
            let (Some(&mine), Some(&theirs)) =
                (self.inproc_pipes.get(&me), self.inproc_pipes.get(&peer))
            else {
                continue;
            };
            let (Some(a), Some(b)) = (
                self.socks[me.0].base.as_ref(),
                self.socks[peer.0].base.as_ref(),
            ) else {
                continue;
            };
            let (Some(wend), Some(rend)) = (a.socket().pipe_end(mine), b.socket().pipe_end(theirs))
            else {
                continue;
            };
            let queued = wend.msgs_kept().saturating_sub(rend.msgs_read());
            let sum = self.inproc_pipe_hwm(me.0, peer.0);
            let bound = self.inproc_hwm.entry(me).or_insert(sum);
            if *bound != 0 {
                *bound = if sum == 0 { 0 } else { (*bound).max(sum) };
            }
            let bound = *bound;
            if bound != 0 && queued as usize > bound {
                let what = format!(
                    "inproc s{} c{} -> s{} holds {queued} messages, over the pipe's \
                     HWM {sum}, SNDHWM + RCVHWM (at most {bound} so far)",
                    me.0, me.1 .0, peer.0
                );
                let now = self.now;
                self.oracle.fail(FailureKind::Safety, now, what);
                return;
            }
        }
    }
    /// At the quiet phase, socket `s`'s inproc connections are the ones the simulator
    /// joined and nothing ended: each live one (joined, joining or waiting for a binder) is
    /// among the socket's connections, each joined one's pipe leads to it, and a connect
    /// still waiting holds its queue (its pipe shows). One the simulator ended, by a close
    /// on either side, is gone once its end of file has arrived.
    pub(super) fn check_inproc_links(&mut self, s: usize) {
        let now = self.now;
        let Some(b) = self.socks[s].base.as_ref() else {
            return;
        };
        let conns: BTreeSet<ConnId> = b.conns().collect();
        let mut failure = None;
        let mut checked = 0;
        let mut held = 0;
        for &(_, conn) in self
            .inproc_seen
            .range((s, ConnId(0))..=(s, ConnId(u64::MAX)))
        {
            let live = self.is_inproc(s, conn);
            let has = conns.contains(&conn);
            let ending = self.inproc_eofs.contains_key(&(s, conn));
            if live && !has {
                failure = Some(format!(
                    "s{s} ({}) lost its live inproc connection c{}",
                    self.socks[s].kind, conn.0
                ));
                break;
            }
            if !live && has && !ending {
                failure = Some(format!(
                    "s{s} ({}) still holds inproc connection c{} after it ended",
                    self.socks[s].kind, conn.0
                ));
                break;
            }
            if !live {
                continue;
            }
            checked += 1;
            if let Some(&p) = self.inproc_pipes.get(&(s, conn)) {
                let led = b.pipe_conn(p);
                if b.socket().pipe_end(p).is_some() && led != Some(conn) {
                    failure = Some(format!(
                        "s{s}'s inproc pipe {} leads to {led:?}, not to its connection c{}",
                        p.0, conn.0
                    ));
                    break;
                }
            }
            let waiting = self.inproc_peer(s, conn).is_none();
            if let Some(p) = b.inproc_pipe(conn).filter(|_| waiting) {
                held += 1;
                if b.pipe(p).is_none() {
                    failure = Some(format!(
                        "s{s}'s inproc connect c{} waits for its binder, but its queue (pipe \
                         {}) does not show",
                        conn.0, p.0
                    ));
                    break;
                }
            }
        }
        self.oracle.coverage.inproc_links_checked += checked;
        self.oracle.coverage.inproc_held_checked += held;
        if let Some(what) = failure {
            self.oracle.fail(FailureKind::Liveness, now, what);
        }
    }
}
