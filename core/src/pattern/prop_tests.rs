//! Property tests: any sequence of API and network inputs leaves every socket type
//! panic-free and within its HWMs.

use bytes::Bytes;
use proptest::prelude::*;

use crate::message::Message;
use crate::options::SocketOption;
use crate::pipe::{PipeId, PipeItem};
use crate::socket::{PipePeer, Socket};
use crate::socket_type::SocketType;

#[derive(Clone, Debug)]
enum Op {
    Attach(u8, Option<u8>),
    Detach(u8),
    AttachPending(u8, Option<u8>),
    PeerReady(u8, Option<u8>),
    Terminate(u8),
    Inbound(u8, Vec<Vec<u8>>),
    Subscribe(u8, Vec<u8>),
    Cancel(u8, Vec<u8>),
    Drain(u8, u8),
    Send(Vec<Vec<u8>>),
    Recv,
    Option(u8, Vec<u8>),
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(0u8..4, 0..4), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    let pipe = 0u8..4;
    prop_oneof![
        (pipe.clone(), prop::option::of(0u8..3)).prop_map(|(p, id)| Op::Attach(p, id)),
        pipe.clone().prop_map(Op::Detach),
        (pipe.clone(), prop::option::of(0u8..3)).prop_map(|(p, id)| Op::AttachPending(p, id)),
        (pipe.clone(), prop::option::of(0u8..3)).prop_map(|(p, id)| Op::PeerReady(p, id)),
        pipe.clone().prop_map(Op::Terminate),
        (pipe.clone(), frames()).prop_map(|(p, f)| Op::Inbound(p, f)),
        (pipe.clone(), prop::collection::vec(0u8..3, 0..3)).prop_map(|(p, t)| Op::Subscribe(p, t)),
        (pipe.clone(), prop::collection::vec(0u8..3, 0..3)).prop_map(|(p, t)| Op::Cancel(p, t)),
        (pipe, 0u8..5).prop_map(|(p, n)| Op::Drain(p, n)),
        frames().prop_map(Op::Send),
        Just(Op::Recv),
        (0u8..12, prop::collection::vec(0u8..3, 0..3)).prop_map(|(o, v)| Op::Option(o, v)),
    ]
}

fn option(o: u8, v: Vec<u8>) -> SocketOption {
    let on = v.first().is_some_and(|b| *b > 0);
    match o {
        0 => SocketOption::RouterMandatory(on),
        1 => SocketOption::RouterHandover(on),
        2 => SocketOption::ReqRelaxed(on),
        3 => SocketOption::ReqCorrelate(on),
        4 => SocketOption::XpubVerboser(on),
        5 => SocketOption::XpubManual(on),
        6 => SocketOption::XpubNodrop(on),
        7 => SocketOption::InvertMatching(on),
        8 => SocketOption::Subscribe(Bytes::from(v)),
        9 => SocketOption::Unsubscribe(Bytes::from(v)),
        10 => SocketOption::ProbeRouter(on),
        _ => SocketOption::XpubWelcomeMsg(Some(Bytes::from(v))),
    }
}

fn peer_type(kind: SocketType) -> SocketType {
    SocketType::ALL
        .into_iter()
        .find(|p| kind.is_compatible_with(*p))
        .unwrap_or(SocketType::Stream)
}

const HWM: usize = 3;

fn run(kind: SocketType, ops: Vec<Op>) {
    let mut s = Socket::new(kind, 7).expect("stable type");
    s.set_option(SocketOption::SndHwm(HWM)).expect("hwm");
    s.set_option(SocketOption::RcvHwm(HWM)).expect("hwm");
    let peer = peer_type(kind);
    for op in ops {
        match op {
            Op::Attach(p, id) => {
                let mut info = PipePeer::new(peer);
                if let Some(id) = id {
                    info = info.with_routing_id(vec![id + 1]);
                }
                let _ = s.attach_pipe(PipeId(p.into()), info);
            }
            Op::AttachPending(p, id) => {
                let _ =
                    s.attach_pending_pipe(PipeId(p.into()), id.map(|i| Bytes::from(vec![i + 1])));
            }
            Op::PeerReady(p, id) => {
                let mut info = PipePeer::new(peer);
                if let Some(id) = id {
                    info = info.with_routing_id(vec![id + 1]);
                }
                let _ = s.peer_ready(PipeId(p.into()), info);
            }
            Op::Detach(p) => {
                s.detach_pipe(PipeId(p.into()));
            }
            Op::Terminate(p) => {
                s.terminate_pipe(PipeId(p.into()));
            }
            Op::Inbound(p, f) => {
                let _ =
                    s.handle_inbound(PipeId(p.into()), PipeItem::Message(Message::from_frames(f)));
            }
            Op::Subscribe(p, t) => {
                let _ = s.handle_inbound(PipeId(p.into()), PipeItem::Subscribe(t.into()));
            }
            Op::Cancel(p, t) => {
                let _ = s.handle_inbound(PipeId(p.into()), PipeItem::Cancel(t.into()));
            }
            Op::Drain(p, n) => {
                for _ in 0..n {
                    s.poll_outbound(PipeId(p.into()));
                }
            }
            Op::Send(f) => {
                let _ = s.send(Message::from_frames(f));
            }
            Op::Recv => {
                let _ = s.recv();
            }
            Op::Option(o, v) => {
                let _ = s.set_option(option(o, v));
            }
        }
        let _ = s.can_send();
        let _ = s.can_recv();
        while s.poll_event().is_some() {}
        let ids: Vec<PipeId> = s.pipe_ids().collect();
        for id in ids {
            let pipe = s.pipe(id).expect("listed");
            assert!(pipe.outbound_len() <= HWM, "{kind}: SNDHWM exceeded");
            assert!(pipe.inbound_len() <= HWM, "{kind}: RCVHWM exceeded");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_stable_socket_survives_any_input(
        kind in prop::sample::select(
            SocketType::ALL.into_iter().filter(|t| !t.is_draft()).collect::<Vec<_>>()
        ),
        ops in prop::collection::vec(op(), 0..80),
    ) {
        run(kind, ops);
    }
}
