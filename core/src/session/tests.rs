//! The session half alone, with the socket half's side of the conversation played by hand.

use super::*;
use crate::endpoint::Endpoint;
use crate::pipe::{pipe_pair, Storage};
use crate::socket_type::SocketType;

const NOW: Instant = Instant::ZERO;

fn config(kind: SocketType) -> SessionConfig {
    SessionConfig {
        engine: EngineConfig::new(kind),
        reconnect_ivl: Some(Duration::from_millis(100)),
        reconnect_ivl_max: Duration::ZERO,
        immediate: true,
    }
}

fn accepted(kind: SocketType) -> Session {
    Session::accepted(NodeId(7), "tcp://a".into(), ConnId(1), config(kind), NOW, 1)
}

fn connect(kind: SocketType) -> Session {
    let ep = Endpoint::parse_connect("tcp://127.0.0.1:5555").unwrap();
    let mut s = Session::connect(NodeId(8), "tcp://b".into(), ep, config(kind), None, 2);
    assert!(matches!(s.poll_action(), Some(Action::Dial { .. })));
    s.handle_dial_result(Ok(()), NOW);
    s
}

/// Everything the session said to its socket, monitor events left out.
fn commands(s: &mut Session) -> Vec<ToSocket> {
    std::iter::from_fn(|| s.poll_command())
        .filter(|c| !matches!(c, ToSocket::Event(_)))
        .collect()
}

fn events(s: &mut Session) -> Vec<MonitorEventKind> {
    std::iter::from_fn(|| s.poll_command())
        .filter_map(|c| match c {
            ToSocket::Event(e) => Some(e.kind),
            _ => None,
        })
        .collect()
}

/// Moves bytes both ways until neither session has more to write.
fn exchange(a: &mut Session, b: &mut Session) {
    loop {
        let mut moved = false;
        while let Some(bytes) = a.poll_transmit(NOW) {
            moved = true;
            b.handle_input(&bytes, NOW);
        }
        while let Some(bytes) = b.poll_transmit(NOW) {
            moved = true;
            a.handle_input(&bytes, NOW);
        }
        if !moved {
            return;
        }
    }
}

/// A PUSH session and a PULL session, both through their handshakes and waiting for the
/// socket's answer.
fn handshaken_pair() -> (Session, Session) {
    let (mut push, mut pull) = (connect(SocketType::Push), accepted(SocketType::Pull));
    exchange(&mut push, &mut pull);
    (push, pull)
}

fn attach(s: &mut Session, pipe: PipeId) -> PipeEnd {
    let (socket_end, session_end) = pipe_pair(4, 4, false, Storage::Local);
    s.handle_command(
        ToSession::Attached {
            pipe,
            end: Some(session_end),
        },
        NOW,
    );
    socket_end
}

#[test]
fn a_raw_stream_session_asks_for_its_pipe_as_soon_as_it_is_made() {
    // No greeting on a raw connection: the handshake is done when the session is made, so
    // the driver that launches it must find the request waiting.
    let mut s = accepted(SocketType::Stream);
    let cmds = commands(&mut s);
    assert!(
        matches!(cmds.as_slice(), [ToSocket::Handshake(_)]),
        "{cmds:?}"
    );
}

#[test]
fn after_its_handshake_a_session_reads_nothing_until_the_socket_answers() {
    let (mut push, mut pull) = handshaken_pair();
    for s in [&mut push, &mut pull] {
        let cmds = commands(s);
        assert!(
            matches!(cmds.as_slice(), [ToSocket::Handshake(_)]),
            "{cmds:?}"
        );
        assert!(!s.wants_input(), "back-pressure while the answer travels");
    }
    // The pushing side gets its pipe and writes; the pulling side has none yet.
    let mut push_socket = attach(&mut push, PipeId(1));
    push_socket.write(Message::from("m1")).unwrap();
    push_socket.flush();
    while let Some(c) = push_socket.poll_command() {
        push.handle_command(ToSession::Pipe(c), NOW);
    }
    exchange(&mut push, &mut pull);
    assert!(
        commands(&mut pull).is_empty(),
        "nothing written before attach"
    );
    // Once attached, what waited in the engine flows into the pipe, in order.
    let mut pull_socket = attach(&mut pull, PipeId(2));
    assert!(pull.wants_input());
    let got: Vec<PipeItem> = std::iter::from_fn(|| pull_socket.read()).collect();
    assert_eq!(got, vec![PipeItem::Message(Message::from("m1"))]);
}

#[test]
fn a_refused_peer_costs_an_accepted_session_its_life_and_a_connect_a_redial() {
    let (mut push, mut pull) = handshaken_pair();
    let _ = (commands(&mut push), commands(&mut pull));
    pull.handle_command(ToSession::Refused, NOW);
    let cmds = commands(&mut pull);
    assert!(matches!(cmds.as_slice(), [ToSocket::TermReq]), "{cmds:?}");
    assert!(matches!(pull.poll_action(), Some(Action::Close { .. })));

    push.handle_command(ToSession::Refused, NOW);
    assert!(matches!(push.poll_action(), Some(Action::Close { .. })));
    assert_eq!(
        events(&mut push),
        [
            MonitorEventKind::Disconnected,
            MonitorEventKind::ConnectRetried
        ]
    );
    let at = push.poll_timeout().expect("a redial is due");
    push.handle_timeout(at);
    assert!(matches!(push.poll_action(), Some(Action::Dial { .. })));
}

#[test]
fn an_answer_that_arrives_after_the_connection_went_hands_its_pipe_back() {
    let (mut push, mut pull) = handshaken_pair();
    let _ = (commands(&mut push), commands(&mut pull));
    // The socket ends the session while its answer is on the way.
    pull.handle_command(ToSession::Destroy, NOW);
    assert!(pull.is_finished());
    let mut fresh = accepted(SocketType::Pull);
    fresh.handle_command(ToSession::Refused, NOW);
    let _ = commands(&mut fresh);
    // A session not waiting for an answer returns a new pipe at once.
    let _ = attach(&mut fresh, PipeId(9));
    let cmds = commands(&mut fresh);
    assert!(
        matches!(cmds.as_slice(), [ToSocket::PipeEnded(PipeId(9))]),
        "{cmds:?}"
    );
}

/// Bytes the driver took from the engine but has not written count for LINGER too: the
/// answer waits until the driver reports them written.
#[test]
fn a_lingering_session_waits_for_the_drivers_unwritten_bytes() {
    let (mut push, mut pull) = handshaken_pair();
    let _ = (commands(&mut push), commands(&mut pull));
    let _socket = attach(&mut push, PipeId(1));
    let _pull_socket = attach(&mut pull, PipeId(2));
    push.set_unwritten(100, NOW);
    push.handle_command(ToSession::Linger, NOW);
    assert!(!commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
    push.set_unwritten(40, NOW);
    assert!(!commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
    push.set_unwritten(0, NOW);
    assert!(commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
}

#[test]
fn a_lingering_session_answers_once_its_queue_is_on_the_wire() {
    let (mut push, mut pull) = handshaken_pair();
    let _ = (commands(&mut push), commands(&mut pull));
    let mut socket = attach(&mut push, PipeId(1));
    let _pull_socket = attach(&mut pull, PipeId(2));
    // Nothing queued: the answer is immediate.
    push.handle_command(ToSession::Linger, NOW);
    assert!(matches!(
        commands(&mut push).as_slice(),
        [.., ToSocket::Drained]
    ));
    // Queued and not yet written: the answer waits for the bytes to leave.
    socket.write(Message::from("late")).unwrap();
    socket.flush();
    push.handle_command(ToSession::Linger, NOW);
    assert!(!commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
    while let Some(c) = socket.poll_command() {
        push.handle_command(ToSession::Pipe(c), NOW);
    }
    assert!(!commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
    exchange(&mut push, &mut pull);
    assert!(commands(&mut push)
        .iter()
        .any(|c| matches!(c, ToSocket::Drained)));
}

#[test]
fn without_reconnection_a_lost_connection_ends_the_pipe_and_the_endpoint() {
    // RECONNECT_IVL = -1 or 0 and no IMMEDIATE: libzmq's session ends its endpoint once the
    // connection goes (it reconnects only with `reconnect_ivl > 0`), and its pipe with it,
    // so the socket stops counting the peer.
    for ivl in [None, Some(Duration::ZERO)] {
        lost_without_reconnection(ivl);
    }
}

fn lost_without_reconnection(ivl: Option<Duration>) {
    let ep = Endpoint::parse_connect("tcp://127.0.0.1:5555").unwrap();
    let cfg = SessionConfig {
        reconnect_ivl: ivl,
        immediate: false,
        ..config(SocketType::Pair)
    };
    let mut pair = Session::connect(NodeId(8), "tcp://b".into(), ep, cfg, None, 2);
    assert!(matches!(pair.poll_action(), Some(Action::Dial { .. })));
    pair.handle_dial_result(Ok(()), NOW);
    let mut peer = accepted(SocketType::Pair);
    exchange(&mut pair, &mut peer);
    let _ = commands(&mut pair);
    let _ = attach(&mut pair, PipeId(3));
    let _ = commands(&mut pair);

    pair.handle_eof(NOW);
    let cmds = commands(&mut pair);
    assert!(
        matches!(
            cmds.as_slice(),
            [ToSocket::PipeEnded(PipeId(3)), ToSocket::TermReq]
        ),
        "{ivl:?}: {cmds:?}"
    );
    assert!(
        pair.poll_timeout().is_none(),
        "{ivl:?}: no redial is scheduled"
    );
}
