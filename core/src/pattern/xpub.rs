//! PUB and XPUB (RFC 29): distribute to subscribers whose subscriptions prefix the first
//! frame; drop at a subscriber's HWM. XPUB also hands subscriptions (`\x01topic` /
//! `\x00topic`) and upstream messages to the application, with libzmq's XPUB_VERBOSE,
//! XPUB_VERBOSER, XPUB_MANUAL, XPUB_NODROP, XPUB_WELCOME_MSG and INVERT_MATCHING.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{parse_subscription, subscription_message, Core, Pattern};
use crate::message::Message;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pipe::{PipeId, PipeItem};
use crate::sched::Distributor;
use crate::socket::{AttachError, RecvError, SendError, SendErrorKind};
use crate::subscription::{Added, MultiTrie, Removed};

/// Publisher; `is_pub` selects PUB (send only, subscriptions kept private).
#[derive(Debug)]
pub(crate) struct XPub {
    is_pub: bool,
    subscriptions: MultiTrie,
    /// XPUB_MANUAL: what each peer asked for, kept to report it when the peer leaves.
    manual_subscriptions: MultiTrie,
    dist: Distributor,
    /// Messages for the application, with the pipe each came from and whether it is a
    /// subscription change (which XPUB_MANUAL's next ZMQ_SUBSCRIBE applies to).
    pending: VecDeque<(Message, Option<PipeId>, bool)>,
    /// XPUB_MANUAL: the pipe whose subscription message the application received last.
    last_pipe: Option<PipeId>,
    verbose_subs: bool,
    verbose_unsubs: bool,
    manual: bool,
    nodrop: bool,
    welcome: Option<Bytes>,
}

impl XPub {
    pub(crate) fn new(is_pub: bool) -> Self {
        XPub {
            is_pub,
            subscriptions: MultiTrie::new(),
            manual_subscriptions: MultiTrie::new(),
            dist: Distributor::new(),
            pending: VecDeque::new(),
            last_pipe: None,
            verbose_subs: false,
            verbose_unsubs: false,
            manual: false,
            nodrop: false,
            welcome: None,
        }
    }

    /// Queues a subscription change for the application. One from a peer carries that
    /// connection's properties (`User-Id`, ZAP metadata), as libzmq's carries its message's;
    /// one the XPUB makes for a departed peer (`properties` `None`) carries none.
    fn notify(
        &mut self,
        subscribe: bool,
        topic: &[u8],
        pipe: Option<PipeId>,
        properties: Option<std::sync::Arc<crate::codec::Metadata>>,
    ) {
        // RFC 29: PUB SHALL NOT deliver subscription commands to its application.
        if !self.is_pub {
            let mut m = subscription_message(subscribe, topic);
            m.set_properties(properties);
            self.pending.push_back((m, pipe, true));
        }
    }

    /// A subscription change from a peer (ZMTP 3.1 command or 3.0 message).
    fn subscription(
        &mut self,
        id: PipeId,
        subscribe: bool,
        topic: Bytes,
        properties: Option<std::sync::Arc<crate::codec::Metadata>>,
    ) {
        if self.manual {
            if subscribe {
                self.manual_subscriptions.add(&topic, id);
            } else {
                self.manual_subscriptions.remove(&topic, id);
            }
            self.notify(subscribe, &topic, Some(id), properties);
            return;
        }
        let unique = if subscribe {
            self.subscriptions.add(&topic, id) == Added::FirstForTopic
        } else {
            self.subscriptions.remove(&topic, id) == Removed::LastForTopic
        };
        let verbose = if subscribe {
            self.verbose_subs
        } else {
            self.verbose_unsubs
        };
        if unique || verbose {
            self.notify(subscribe, &topic, Some(id), properties);
        }
    }

    /// Marks the subscribers a message starting with `first` goes to. False, with nothing
    /// marked, if XPUB_NODROP must refuse it because one of them is full.
    fn match_topic(&mut self, core: &mut Core, first: &[u8]) -> bool {
        // RFC 29: binary prefix comparison against the start of the first frame.
        let dist = &mut self.dist;
        self.subscriptions
            .match_pipes(first, |p| dist.match_pipe(p));
        if core.options.invert_matching {
            dist.reverse_match();
        }
        // Like libzmq's check_hwm, only a full queue blocks: a terminated subscriber takes
        // nothing more, and must not hold up the live ones while it drains.
        let has_room = |id| {
            let live = core.pipes.get(&id).is_some_and(|e| !e.closing);
            !live || core.check_write(id)
        };
        if self.nodrop && !dist.check_hwm(has_room) {
            dist.unmatch();
            return false;
        }
        true
    }
}

impl Pattern for XPub {
    #[cfg(feature = "sim")]
    fn holdings(&self) -> usize {
        self.dist.len()
    }

    fn attach(&mut self, core: &mut Core, id: PipeId) -> Result<(), AttachError> {
        self.dist.attach(id);
        if let Some(welcome) = &self.welcome {
            // A new pipe is empty, so the welcome message always fits.
            let _ = core.write(id, Message::single(welcome.clone()));
        }
        Ok(())
    }

    fn detach(&mut self, _core: &mut Core, id: PipeId) {
        // RFC 29: if a subscriber disconnects, XPUB SHALL generate unsubscribes for it.
        let mut gone = Vec::new();
        if self.manual {
            self.manual_subscriptions
                .remove_pipe(id, |topic, _| gone.push(Bytes::copy_from_slice(topic)));
            self.subscriptions.remove_pipe(id, |_, _| {});
        } else {
            let verbose = self.verbose_unsubs;
            self.subscriptions.remove_pipe(id, |topic, last| {
                if last || verbose {
                    gone.push(Bytes::copy_from_slice(topic));
                }
            });
        }
        for topic in gone {
            self.notify(false, &topic, None, None);
        }
        self.dist.detach(id);
        if self.last_pipe == Some(id) {
            self.last_pipe = None;
        }
    }

    /// Subscriptions must take effect whether or not the application ever reads (a PUB
    /// never does), so everything a peer sent is taken at once, as libzmq's
    /// `xread_activated` does: subscription changes update the trie (and are queued for the
    /// XPUB application), other messages are queued for XPUB and discarded by PUB (RFC 29).
    fn read_activated(&mut self, core: &mut Core, id: PipeId) {
        while let Some(item) = core.read_item(id) {
            let (subscribe, topic) = match item {
                PipeItem::Subscribe(t) => (true, t),
                PipeItem::Cancel(t) => (false, t),
                PipeItem::Message(m) => match parse_subscription(&m) {
                    Some(change) => change,
                    None => {
                        if !self.is_pub {
                            self.pending.push_back((m, Some(id), false));
                        }
                        continue;
                    }
                },
            };
            let properties = core.peer(id).and_then(|p| p.properties.clone());
            self.subscription(id, subscribe, topic, properties);
        }
    }

    fn write_activated(&mut self, _core: &mut Core, id: PipeId) {
        self.dist.activated(id);
    }

    fn send(&mut self, core: &mut Core, msg: Message) -> Result<(), SendError> {
        if !self.match_topic(core, &msg.frames()[0]) {
            return Err(SendError::would_block(msg));
        }
        // RFC 29: SHALL silently drop the message if a subscriber's queue is full.
        self.dist
            .send_to_matching(&msg, |id, m| core.write(id, m).is_ok());
        Ok(())
    }

    fn check_send_start(&mut self, core: &mut Core, first: &[u8]) -> Result<(), SendErrorKind> {
        // libzmq's xpub `xsend` matches and, with XPUB_NODROP, checks the HWMs at the first
        // frame.
        let ok = self.match_topic(core, first);
        self.dist.unmatch();
        if ok {
            Ok(())
        } else {
            Err(SendErrorKind::WouldBlock)
        }
    }

    fn recv(&mut self, core: &mut Core) -> Result<Message, RecvError> {
        if self.is_pub {
            return Err(RecvError::NotSupported);
        }
        let (msg, pipe, change) = self.pending.pop_front().ok_or(RecvError::WouldBlock)?;
        // Everything was read when it arrived: the message's own pipe, not the last one read.
        core.last_read = pipe;
        // XPUB_MANUAL's ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE apply to the pipe of the subscription
        // change received last; one the XPUB made itself for a departed subscriber has none,
        // so they then apply to no pipe (libzmq's `_pending_pipes` holds NULL for it), not to
        // the pipe before.
        if change {
            self.last_pipe = pipe;
        }
        Ok(msg)
    }

    fn can_send(&mut self, _core: &mut Core) -> bool {
        true
    }

    fn can_recv(&mut self, core: &mut Core) -> bool {
        let _ = core;
        !self.is_pub && !self.pending.is_empty()
    }

    fn set_option(&mut self, _core: &mut Core, opt: &SocketOption) -> Result<bool, OptionError> {
        match opt {
            SocketOption::XpubVerbose(v) => self.verbose_subs = *v,
            SocketOption::XpubVerboser(v) => {
                self.verbose_subs = *v;
                self.verbose_unsubs = *v;
            }
            SocketOption::XpubManual(v) => self.manual = *v,
            SocketOption::XpubNodrop(v) => self.nodrop = *v,
            SocketOption::XpubWelcomeMsg(v) => self.welcome.clone_from(v),
            // XPUB_MANUAL: the application subscribes the pipe it last heard from.
            SocketOption::Subscribe(topic) if self.manual => {
                if let Some(pipe) = self.last_pipe {
                    self.subscriptions.add(topic, pipe);
                }
            }
            SocketOption::Unsubscribe(topic) if self.manual => {
                if let Some(pipe) = self.last_pipe {
                    self.subscriptions.remove(topic, pipe);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        Some(match name {
            SocketOptionName::XpubVerbose => SocketOption::XpubVerbose(self.verbose_subs),
            SocketOptionName::XpubVerboser => SocketOption::XpubVerboser(self.verbose_unsubs),
            SocketOptionName::XpubManual => SocketOption::XpubManual(self.manual),
            SocketOptionName::XpubNodrop => SocketOption::XpubNodrop(self.nodrop),
            SocketOptionName::XpubWelcomeMsg => SocketOption::XpubWelcomeMsg(self.welcome.clone()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::options::SocketOption;
    use crate::socket::{RecvError, SendErrorKind};
    use crate::socket_type::SocketType::{Pub, Sub, XPub, XSub};
    use crate::{PipeId, PipeItem, Socket};
    use bytes::Bytes;

    fn subscribe(s: &mut Socket, pipe: PipeId, topic: &'static str) {
        s.handle_inbound(
            pipe,
            PipeItem::Subscribe(Bytes::from_static(topic.as_bytes())),
        )
        .unwrap();
    }

    fn cancel(s: &mut Socket, pipe: PipeId, topic: &'static str) {
        s.handle_inbound(pipe, PipeItem::Cancel(Bytes::from_static(topic.as_bytes())))
            .unwrap();
    }

    #[test]
    fn pub_shall_send_only_to_subscribers_with_a_matching_subscription() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "news");
        s.send(msg(&["news.today", "body"])).unwrap();
        s.send(msg(&["sport"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["news.today", "body"])]);
        assert!(sent_msgs(&mut s, b).is_empty());
    }

    #[test]
    fn pub_shall_compare_the_subscription_against_the_start_of_the_first_frame() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, Sub);
        subscribe(&mut s, a, "ab");
        for m in [msg(&["xab"]), msg(&["a"]), msg(&["x", "ab"])] {
            s.send(m).unwrap();
        }
        s.send(msg(&["abc", "x"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["abc", "x"])]);
    }

    #[test]
    fn pub_empty_subscription_matches_everything() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, XSub);
        subscribe(&mut s, a, "");
        s.send(msg(&[""])).unwrap();
        s.send(msg(&["anything"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a).len(), 2);
    }

    #[test]
    fn pub_shall_silently_drop_the_message_if_a_subscriber_queue_is_full() {
        let mut s = socket(Pub);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "");
        subscribe(&mut s, b, "");
        s.send(msg(&["1"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["1"])]);
        assert_eq!(s.send(msg(&["2"])), Ok(()), "SHALL NOT block on sending");
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["2"])]);
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["1"])], "b lost 2");
        s.send(msg(&["3"])).unwrap();
        assert_eq!(
            sent_msgs(&mut s, b),
            vec![msg(&["3"])],
            "b is back once drained"
        );
    }

    #[test]
    fn pub_shall_not_block_without_subscribers() {
        let mut s = socket(Pub);
        assert_eq!(s.send(msg(&["x"])), Ok(()));
        assert!(s.can_send());
    }

    #[test]
    fn pub_shall_not_deliver_subscriptions_or_messages_to_its_application() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, XSub);
        subscribe(&mut s, a, "t");
        deliver(&mut s, a, msg(&["upstream chatter"]));
        assert_eq!(s.recv(), Err(RecvError::NotSupported));
        assert_eq!(
            s.pipe(a).unwrap().inbound_len(),
            0,
            "SHALL silently discard"
        );
    }

    #[test]
    fn pub_accepts_zmtp_3_0_subscription_messages() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, Sub);
        deliver(&mut s, a, msg(&["\x01t"]));
        s.send(msg(&["t1"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a).len(), 1);
        deliver(&mut s, a, msg(&["\x00t"]));
        s.send(msg(&["t2"])).unwrap();
        assert!(sent_msgs(&mut s, a).is_empty());
    }

    #[test]
    fn pub_shall_destroy_a_subscribers_queue_and_subscriptions_when_it_disconnects() {
        let mut s = socket(Pub);
        let a = attach(&mut s, 1, Sub);
        subscribe(&mut s, a, "");
        s.send(msg(&["queued"])).unwrap();
        s.detach_pipe(a);
        let again = attach(&mut s, 1, Sub);
        s.send(msg(&["x"])).unwrap();
        assert!(sent_msgs(&mut s, again).is_empty());
    }

    #[test]
    fn invert_matching_sends_to_the_non_matching_subscribers() {
        let mut s = socket(Pub);
        s.set_option(SocketOption::InvertMatching(true)).unwrap();
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "x");
        subscribe(&mut s, b, "y");
        s.send(msg(&["x1"])).unwrap();
        assert!(sent_msgs(&mut s, a).is_empty());
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["x1"])]);
    }

    #[test]
    fn xpub_nodrop_reports_would_block_instead_of_dropping() {
        let mut s = socket(XPub);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        s.set_option(SocketOption::XpubNodrop(true)).unwrap();
        let a = attach(&mut s, 1, Sub);
        subscribe(&mut s, a, "");
        s.send(msg(&["1"])).unwrap();
        let e = s.send(msg(&["2"])).unwrap_err();
        assert_eq!(
            (e.kind, e.message),
            (SendErrorKind::WouldBlock, msg(&["2"]))
        );
    }

    #[test]
    fn xpub_shall_deliver_subscriptions_to_its_application() {
        let mut s = socket(XPub);
        let a = attach(&mut s, 1, Sub);
        subscribe(&mut s, a, "topic");
        cancel(&mut s, a, "topic");
        assert_eq!(s.recv(), Ok(msg(&["\x01topic"])));
        assert_eq!(s.recv(), Ok(msg(&["\x00topic"])));
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn xpub_normalizes_identical_subscriptions_into_one_command() {
        let mut s = socket(XPub);
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "t");
        subscribe(&mut s, b, "t");
        subscribe(&mut s, a, "t");
        cancel(&mut s, a, "t");
        cancel(&mut s, b, "t");
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert_eq!(got, vec![msg(&["\x01t"]), msg(&["\x00t"])]);
    }

    #[test]
    fn xpub_verbose_passes_every_subscribe_and_verboser_every_unsubscribe() {
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubVerbose(true)).unwrap();
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "t");
        subscribe(&mut s, b, "t");
        cancel(&mut s, a, "t");
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert_eq!(got, vec![msg(&["\x01t"]), msg(&["\x01t"])]);
        s.set_option(SocketOption::XpubVerboser(true)).unwrap();
        subscribe(&mut s, a, "t");
        cancel(&mut s, a, "t");
        let got: Vec<_> = std::iter::from_fn(|| s.recv().ok()).collect();
        assert_eq!(got, vec![msg(&["\x01t"]), msg(&["\x00t"])]);
    }

    #[test]
    fn xpub_shall_generate_unsubscribes_when_a_subscriber_disconnects() {
        let mut s = socket(XPub);
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "shared");
        subscribe(&mut s, b, "shared");
        subscribe(&mut s, a, "mine");
        while s.recv().is_ok() {}
        s.detach_pipe(a);
        assert_eq!(s.recv(), Ok(msg(&["\x00mine"])));
        assert_eq!(
            s.recv(),
            Err(RecvError::WouldBlock),
            "b still holds 'shared'"
        );
    }

    #[test]
    fn xpub_shall_deliver_messages_from_subscribers_with_fair_queuing() {
        let mut s = socket(XPub);
        let a = attach(&mut s, 1, XSub);
        deliver(&mut s, a, msg(&["upstream", "data"]));
        assert_eq!(s.recv(), Ok(msg(&["upstream", "data"])));
    }

    #[test]
    fn xpub_reports_the_pipe_each_message_came_from() {
        // Everything is read when it arrives, so a receive must name the message's own
        // pipe, not the last one read (a driver that took messages ahead drops by it).
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubManual(true)).unwrap();
        let a = attach(&mut s, 1, XSub);
        let b = attach(&mut s, 2, XSub);
        subscribe(&mut s, a, "t");
        deliver(&mut s, a, msg(&["from a"]));
        deliver(&mut s, b, msg(&["from b"]));
        assert_eq!(s.recv(), Ok(msg(&["\x01t"])));
        assert_eq!(s.last_recv_pipe(), Some(a));
        assert_eq!(s.recv(), Ok(msg(&["from a"])));
        assert_eq!(s.last_recv_pipe(), Some(a));
        assert_eq!(s.recv(), Ok(msg(&["from b"])));
        assert_eq!(s.last_recv_pipe(), Some(b));
        // A user message does not move XPUB_MANUAL's target: the subscription's pipe gets it.
        s.set_option(SocketOption::Subscribe(Bytes::from_static(b"t")))
            .unwrap();
        s.send(msg(&["t!"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["t!"])]);
        assert!(sent_msgs(&mut s, b).is_empty());
    }

    #[test]
    fn xpub_manual_lets_the_application_decide_subscriptions() {
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubManual(true)).unwrap();
        let a = attach(&mut s, 1, Sub);
        subscribe(&mut s, a, "asked");
        assert_eq!(s.recv(), Ok(msg(&["\x01asked"])));
        s.send(msg(&["asked"])).unwrap();
        assert!(sent_msgs(&mut s, a).is_empty(), "nothing subscribed yet");
        s.set_option(SocketOption::Subscribe(Bytes::from_static(b"granted")))
            .unwrap();
        s.send(msg(&["granted!"])).unwrap();
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["granted!"])]);
        s.detach_pipe(a);
        assert_eq!(s.recv(), Ok(msg(&["\x00asked"])));
    }

    #[test]
    fn a_subscription_handed_up_carries_its_connections_properties() {
        // libzmq's XPUB hands a subscription up with the metadata of the message that
        // carried it (User-Id, ZAP metadata); a cancel it makes for a departed subscriber
        // carries none.
        let mut s = socket(XPub);
        let mut meta = crate::codec::Metadata::new();
        meta.push("User-Id", &b"alice"[..]).unwrap();
        let mut peer = crate::socket::PipePeer::new(Sub);
        peer.properties = Some(std::sync::Arc::new(meta));
        let a = PipeId(1);
        s.attach_pipe(a, peer).unwrap();
        subscribe(&mut s, a, "t");
        let m = s.recv().unwrap();
        assert_eq!(m, msg(&["\x01t"]));
        assert_eq!(m.property("User-Id"), Some(&Bytes::from_static(b"alice")));
        s.detach_pipe(a);
        let m = s.recv().unwrap();
        assert_eq!(m, msg(&["\x00t"]));
        assert_eq!(m.property("User-Id"), None);
    }

    #[test]
    fn xpub_manual_applies_nothing_after_a_departed_subscribers_cancel() {
        // The cancel an XPUB_MANUAL socket makes for a subscriber that left names no pipe:
        // an UNSUBSCRIBE that follows it must not take another subscriber's topic away (as
        // libzmq, whose `_last_pipe` is then NULL).
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubManual(true)).unwrap();
        let a = attach(&mut s, 1, Sub);
        let b = attach(&mut s, 2, Sub);
        subscribe(&mut s, a, "t");
        assert_eq!(s.recv(), Ok(msg(&["\x01t"])));
        subscribe(&mut s, b, "t");
        assert_eq!(s.recv(), Ok(msg(&["\x01t"])));
        s.set_option(SocketOption::Subscribe(Bytes::from_static(b"t")))
            .unwrap();
        // b's was received last; a leaves.
        s.detach_pipe(a);
        assert_eq!(s.recv(), Ok(msg(&["\x00t"])));
        s.set_option(SocketOption::Unsubscribe(Bytes::from_static(b"t")))
            .unwrap();
        s.send(msg(&["t!"])).unwrap();
        assert_eq!(
            sent_msgs(&mut s, b),
            vec![msg(&["t!"])],
            "b keeps its topic"
        );
    }

    #[test]
    fn xpub_welcome_message_goes_to_each_new_subscriber() {
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubWelcomeMsg(Some(Bytes::from_static(
            b"hi",
        ))))
        .unwrap();
        let a = attach(&mut s, 1, Sub);
        assert_eq!(sent_msgs(&mut s, a), vec![msg(&["hi"])]);
    }

    #[test]
    fn sub_to_pub_end_to_end() {
        let mut w = Wire::new(Pub, Sub);
        w.b.set_option(SocketOption::Subscribe(Bytes::from_static(b"a")))
            .unwrap();
        w.pump();
        for t in ["a1", "b1", "a2"] {
            w.a.send(msg(&[t])).unwrap();
        }
        w.pump();
        assert_eq!(w.b.recv(), Ok(msg(&["a1"])));
        assert_eq!(w.b.recv(), Ok(msg(&["a2"])));
        assert_eq!(w.b.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn xpub_nodrop_is_not_blocked_by_a_terminated_subscriber() {
        let mut s = socket(XPub);
        s.set_option(SocketOption::XpubNodrop(true)).unwrap();
        let a = attach(&mut s, 1, XSub);
        let b = attach(&mut s, 2, XSub);
        subscribe(&mut s, a, "t");
        subscribe(&mut s, b, "t");
        // An upstream message nobody has read keeps the terminated pipe attached a while.
        deliver(&mut s, a, msg(&["upstream"]));
        assert!(s.terminate_pipe(a));
        s.send(msg(&["t1"])).unwrap();
        assert_eq!(sent_msgs(&mut s, b), vec![msg(&["t1"])]);
    }
}
