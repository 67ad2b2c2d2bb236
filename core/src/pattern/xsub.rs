//! SUB and XSUB (RFC 29): fair-queue from publishers; subscriptions go upstream to every
//! publisher and are replayed to each new one. SUB filters by its subscriptions (inverted with
//! INVERT_MATCHING); XSUB, like libzmq's, delivers everything and lets the application send
//! `\x01topic` / `\x00topic` and plain messages upstream.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::{parse_subscription, Batch, Core, Pattern};
use crate::message::Message;
use crate::options::{OptionError, SocketOption};
use crate::pipe::{PipeId, PipeItem};
use crate::sched::{Distributor, FairQueue};
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind};
use crate::subscription::Trie;

/// Subscriber; `is_sub` selects SUB (receive only, filtered).
#[derive(Debug)]
pub(crate) struct XSub {
    is_sub: bool,
    subscriptions: Trie,
    fq: FairQueue,
    dist: Distributor,
    pipes: BTreeSet<PipeId>,
    /// A wanted message found by `can_recv`, returned by the next `recv`.
    prefetched: Option<Message>,
}

impl XSub {
    pub(crate) fn new(is_sub: bool) -> Self {
        XSub {
            is_sub,
            subscriptions: Trie::new(),
            fq: FairQueue::new(),
            dist: Distributor::new(),
            pipes: BTreeSet::new(),
            prefetched: None,
        }
    }

    fn upstream(&self, core: &mut Core, item: &PipeItem) {
        for &id in &self.pipes {
            core.write_command(id, item.clone());
        }
    }

    /// Counts a subscription change and tells the publishers. Every subscribe goes upstream
    /// (publishers drop duplicates per pipe); a cancel goes only when the count reaches zero.
    fn change(&mut self, core: &mut Core, subscribe: bool, topic: Bytes) {
        if subscribe {
            self.subscriptions.add(&topic);
            self.upstream(core, &PipeItem::Subscribe(topic));
        } else if self.subscriptions.remove(&topic) {
            self.upstream(core, &PipeItem::Cancel(topic));
        }
    }

    /// Whether a SUB wants `msg` (its first frame matches a subscription, or with
    /// INVERT_MATCHING does not); an XSUB wants everything.
    fn wants(&self, core: &Core, msg: &Message) -> bool {
        !self.is_sub || self.subscriptions.matches(&msg.frames()[0]) != core.options.invert_matching
    }

    /// The message a POLLIN look kept, if the application still wants it: a subscription
    /// changed since (UNSUBSCRIBE, INVERT_MATCHING) filters it as it filters what is still
    /// in the pipes. libzmq hands it up regardless.
    fn take_prefetched(&mut self, core: &Core) -> Option<Message> {
        self.prefetched.take().filter(|m| self.wants(core, m))
    }

    /// The next received message the application wants, discarding the others.
    fn next_wanted(&mut self, core: &mut Core) -> Option<Message> {
        while let Some((_, msg)) = self.fq.recv(|id| core.read(id)) {
            if self.wants(core, &msg) {
                return Some(msg);
            }
        }
        None
    }
}

impl Pattern for XSub {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.fq.len().max(self.dist.len()).max(self.pipes.len())
    }

    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.pipes.insert(id);
        self.fq.attach(id);
        self.dist.attach(id);
        // Replay every subscription to the new publisher, one per distinct topic.
        self.subscriptions.for_each(|topic| {
            core.write_command(id, PipeItem::Subscribe(Bytes::copy_from_slice(topic)));
        });
        Ok(())
    }

    fn hiccuped(&mut self, core: &mut Core, id: PipeId) {
        // The publisher behind a reconnected pipe is a new one that knows nothing yet.
        self.subscriptions.for_each(|topic| {
            core.write_command(id, PipeItem::Subscribe(Bytes::copy_from_slice(topic)));
        });
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        self.pipes.remove(&id);
        self.fq.detach(id);
        self.dist.detach(id);
    }

    fn read_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.fq.activated(id);
    }

    fn write_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.dist.activated(id);
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        if self.is_sub {
            return Err(SendError::not_supported(msg));
        }
        if let Some((subscribe, topic)) = parse_subscription(&msg) {
            self.change(core, subscribe, topic);
            return Ok(());
        }
        // RFC 29: XSUB SHALL send all messages to all publishers, dropping at a full queue.
        self.dist
            .send_to_all(&msg, |id, m| core.write(id, m).is_ok());
        Ok(())
    }

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        self.take_prefetched(core)
            .or_else(|| self.next_wanted(core))
            .ok_or(RecvError::WouldBlock)
    }

    fn recv_batch(&mut self, core: &mut Core, out: &mut Batch, max: usize) -> usize {
        let start = out.len();
        if let Some(msg) = self.take_prefetched(core) {
            // The message a POLLIN look kept comes first, under the pipe `recv` reports for
            // it: the look's read was the last.
            out.push_back((core.last_read.unwrap_or(PipeId(0)), msg));
        }
        let taken = out.len();
        let room = max.saturating_sub(taken - start);
        self.fq.recv_batch(|id| core.read_many(id, out, room));
        // What a SUB does not want is dropped, as `recv` drops it; what it wants moves up
        // in order, in one pass.
        let mut kept = taken;
        for i in taken..out.len() {
            if self.wants(core, &out[i].1) {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
        out.len() - start
    }

    fn admits(&self, core: &Core, msg: &Message) -> bool {
        self.wants(core, msg)
    }

    fn can_send(&mut self, _core: &mut Core) -> bool {
        !self.is_sub
    }

    fn check_send_start(&mut self, _core: &mut Core, _first: &[u8]) -> Result<(), SendErrorKind> {
        // XSUB never blocks: a full publisher's queue drops the message.
        if self.is_sub {
            Err(SendErrorKind::NotSupported)
        } else {
            Ok(())
        }
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        if let Some(msg) = self.take_prefetched(core) {
            self.prefetched = Some(msg);
            return true;
        }
        // Like libzmq, look ahead for a wanted message and keep it for the next recv.
        match self.next_wanted(core) {
            Some(msg) => {
                self.prefetched = Some(msg);
                true
            }
            None => false,
        }
    }

    fn set_option(&mut self, core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        match opt {
            SocketOption::Subscribe(topic) if self.is_sub => {
                self.change(core, true, topic.clone());
            }
            SocketOption::Unsubscribe(topic) if self.is_sub => {
                self.change(core, false, topic.clone());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Pub, Sub, XPub, XSub};
    use crate::{Message, PipeId, PipeItem, Socket};
    use bytes::Bytes;

    fn sub(s: &mut Socket, topic: &'static str) {
        s.set_option(SocketOption::Subscribe(Bytes::from_static(
            topic.as_bytes(),
        )))
        .unwrap();
    }

    fn unsub(s: &mut Socket, topic: &'static str) {
        s.set_option(SocketOption::Unsubscribe(Bytes::from_static(
            topic.as_bytes(),
        )))
        .unwrap();
    }

    fn item_sub(t: &'static str) -> PipeItem {
        PipeItem::Subscribe(Bytes::from_static(t.as_bytes()))
    }

    fn item_cancel(t: &'static str) -> PipeItem {
        PipeItem::Cancel(Bytes::from_static(t.as_bytes()))
    }

    #[test]
    fn a_sub_batch_drops_what_is_not_wanted_as_recv_does() {
        let make = |pipes: u64| {
            let mut s = socket(Sub);
            sub(&mut s, "a");
            for n in 1..=pipes {
                let p = attach(&mut s, n, Pub);
                for m in ["b0", "a1", "b1", "b2", "a2", "b3"] {
                    deliver(&mut s, p, msg(&[m]));
                }
            }
            s
        };
        let got = received_in_batches_as_singly(|| make(1));
        let frames: Vec<_> = got.iter().map(|(_, m)| m.frames()[0].to_vec()).collect();
        assert_eq!(frames, [b"a1", b"a2"]);
        assert_eq!(received_in_batches_as_singly(|| make(2)).len(), 4);
    }

    #[test]
    fn a_large_sub_batch_keeps_what_it_wants_in_order() {
        let mut s = socket(Sub);
        sub(&mut s, "a");
        let p = attach(&mut s, 1, Pub);
        let sent = ["b0", "a1", "b1", "b2", "a2", "a3", "b3", "a4", "b4"];
        for m in sent {
            deliver(&mut s, p, msg(&[m]));
        }
        let mut out = std::collections::VecDeque::new();
        assert_eq!(s.recv_many(&mut out, sent.len()), Ok(4), "one batch");
        let frames: Vec<_> = out.iter().map(|(_, m)| m.frames()[0].to_vec()).collect();
        assert_eq!(frames, [b"a1", b"a2", b"a3", b"a4"]);
    }

    #[test]
    fn a_sub_batch_after_a_pollin_look_starts_with_what_the_look_kept() {
        let make = |unsubscribe: bool| {
            let mut s = socket(Sub);
            sub(&mut s, "a");
            let p = attach(&mut s, 1, Pub);
            for m in ["b0", "a1", "b1", "a2"] {
                deliver(&mut s, p, msg(&[m]));
            }
            assert!(s.can_recv(), "the look keeps a1");
            if unsubscribe {
                s.set_option(SocketOption::Unsubscribe(Bytes::from_static(b"a")))
                    .unwrap();
                sub(&mut s, "a2");
            }
            s
        };
        let frames = |got: Vec<(PipeId, Message)>| -> Vec<Vec<u8>> {
            got.into_iter()
                .map(|(_, m)| m.frames()[0].to_vec())
                .collect()
        };
        let got = received_in_batches_as_singly(|| make(false));
        assert_eq!(frames(got), [b"a1", b"a2"]);
        // A subscription change after the look filters what it kept, as `recv` does.
        let got = received_in_batches_as_singly(|| make(true));
        assert_eq!(frames(got), [b"a2"]);
    }

    #[test]
    fn sub_shall_send_subscriptions_to_every_publisher() {
        let mut s = socket(Sub);
        let a = attach(&mut s, 1, Pub);
        let b = attach(&mut s, 2, XPub);
        sub(&mut s, "t");
        assert_eq!(sent(&mut s, a), vec![item_sub("t")]);
        assert_eq!(sent(&mut s, b), vec![item_sub("t")]);
    }

    #[test]
    fn subscriptions_are_replayed_to_each_new_publisher() {
        let mut s = socket(Sub);
        sub(&mut s, "b");
        sub(&mut s, "a");
        sub(&mut s, "a");
        let p = attach(&mut s, 1, Pub);
        assert_eq!(sent(&mut s, p), vec![item_sub("a"), item_sub("b")]);
    }

    /// Found by the simulator (seed 9): a SUB whose connect session reconnected kept its
    /// queue but never told the new publisher what it wanted, and received nothing again.
    #[test]
    fn subscriptions_are_resent_after_a_reconnect() {
        let mut s = socket(Sub);
        sub(&mut s, "t");
        let p = crate::PipeId(1);
        s.attach_pending_pipe(p, None).unwrap();
        s.peer_ready(p, crate::PipePeer::new(Pub)).unwrap();
        assert_eq!(sent(&mut s, p), vec![item_sub("t")]);
        // The connection drops; the session's pipe stays and meets a fresh publisher.
        s.peer_ready(p, crate::PipePeer::new(Pub)).unwrap();
        assert_eq!(sent(&mut s, p), vec![item_sub("t")]);
        deliver(&mut s, p, msg(&["t1"]));
        assert_eq!(s.recv(), Ok(msg(&["t1"])));
    }

    #[test]
    fn subscriptions_are_counted_and_only_the_last_cancel_goes_upstream() {
        let mut s = socket(Sub);
        let p = attach(&mut s, 1, Pub);
        sub(&mut s, "t");
        sub(&mut s, "t");
        unsub(&mut s, "t");
        deliver(&mut s, p, msg(&["t1"]));
        assert_eq!(s.recv(), Ok(msg(&["t1"])), "still subscribed once");
        unsub(&mut s, "t");
        unsub(&mut s, "t");
        assert_eq!(
            sent(&mut s, p),
            vec![item_sub("t"), item_sub("t"), item_cancel("t")]
        );
        deliver(&mut s, p, msg(&["t2"]));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn sub_filters_by_prefix_of_the_first_frame() {
        let mut s = socket(Sub);
        let p = attach(&mut s, 1, Pub);
        sub(&mut s, "ab");
        for m in [
            msg(&["a"]),
            msg(&["ab", "1"]),
            msg(&["x", "ab"]),
            msg(&["abc"]),
        ] {
            deliver(&mut s, p, m);
        }
        assert_eq!(s.recv(), Ok(msg(&["ab", "1"])));
        assert_eq!(s.recv(), Ok(msg(&["abc"])));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn sub_without_subscriptions_receives_nothing_and_empty_topic_everything() {
        let mut s = socket(Sub);
        let p = attach(&mut s, 1, Pub);
        deliver(&mut s, p, msg(&["x"]));
        assert!(!s.can_recv());
        sub(&mut s, "");
        deliver(&mut s, p, msg(&["y"]));
        assert!(s.can_recv());
        assert_eq!(s.recv(), Ok(msg(&["y"])));
    }

    #[test]
    fn a_message_a_pollin_look_kept_is_filtered_by_a_later_unsubscribe() {
        let mut s = socket(Sub);
        let p = attach(&mut s, 1, Pub);
        sub(&mut s, "a");
        sub(&mut s, "b");
        deliver(&mut s, p, msg(&["a1"]));
        deliver(&mut s, p, msg(&["b1"]));
        assert!(s.can_recv(), "the look keeps a1");
        unsub(&mut s, "a");
        assert!(s.can_recv(), "b1 is still wanted");
        assert_eq!(s.recv(), Ok(msg(&["b1"])));
        deliver(&mut s, p, msg(&["b2"]));
        assert!(s.can_recv(), "the look keeps b2");
        s.set_option(SocketOption::InvertMatching(true)).unwrap();
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn sub_shall_receive_from_publishers_with_fair_queuing() {
        let mut s = socket(Sub);
        sub(&mut s, "");
        let a = attach(&mut s, 1, Pub);
        let b = attach(&mut s, 2, Pub);
        deliver(&mut s, a, msg(&["a1"]));
        deliver(&mut s, a, msg(&["a2"]));
        deliver(&mut s, b, msg(&["b1"]));
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert!(got[..2].contains(&msg(&["b1"])));
    }

    #[test]
    fn sub_shall_only_receive() {
        let mut s = socket(Sub);
        assert_eq!(
            s.send(msg(&["\x01t"])).unwrap_err().kind,
            SendErrorKind::NotSupported
        );
    }

    #[test]
    fn sub_invert_matching_delivers_the_non_matching() {
        let mut s = socket(Sub);
        s.set_option(SocketOption::InvertMatching(true)).unwrap();
        let p = attach(&mut s, 1, Pub);
        sub(&mut s, "skip");
        deliver(&mut s, p, msg(&["skip me"]));
        deliver(&mut s, p, msg(&["keep me"]));
        assert_eq!(s.recv(), Ok(msg(&["keep me"])));
    }

    #[test]
    fn xsub_accepts_subscription_commands_from_its_application() {
        let mut s = socket(XSub);
        let p = attach(&mut s, 1, XPub);
        s.send(msg(&["\x01t"])).unwrap();
        s.send(msg(&["\x00t"])).unwrap();
        s.send(msg(&["\x00never"])).unwrap();
        assert_eq!(sent(&mut s, p), vec![item_sub("t"), item_cancel("t")]);
    }

    #[test]
    fn xsub_shall_send_all_other_messages_to_all_publishers() {
        let mut s = socket(XSub);
        let a = attach(&mut s, 1, XPub);
        let b = attach(&mut s, 2, XPub);
        s.send(msg(&["hello", "up"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["hello", "up"])]);
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["hello", "up"])]);
    }

    #[test]
    fn xsub_delivers_without_filtering() {
        let mut s = socket(XSub);
        let p = attach(&mut s, 1, Pub);
        deliver(&mut s, p, msg(&["anything"]));
        assert_eq!(s.recv(), Ok(msg(&["anything"])));
    }

    #[test]
    fn xsub_to_xpub_proxy_leg_end_to_end() {
        let mut w = Wire::new(XPub, XSub);
        w.b.send(msg(&["\x01k"])).unwrap();
        w.pump();
        assert_eq!(w.a.recv(), Ok(msg(&["\x01k"])));
        w.a.send(msg(&["k", "v"])).unwrap();
        w.a.send(msg(&["other"])).unwrap();
        w.pump();
        assert_eq!(w.b.recv(), Ok(msg(&["k", "v"])));
        assert_eq!(w.b.recv(), Err(RecvError::WouldBlock));
    }
}
