//! STREAM's promises where the simulator's workload does not go.

use bytes::Bytes;
use oxmq_core::{Message, PipeId, PipeItem, PipePeer, Socket, SocketType};

/// Open: a STREAM connect without ZMQ_IMMEDIATE keeps its pipe (and routing id) across
/// connections, as libzmq's does. libzmq frames each connection inside that pipe: the raw
/// engine pushes an empty message when it is plugged in (`raw_engine_t::plug_internal`) and
/// another when its connection breaks (`raw_engine_t::error`), so the application reads the
/// old connection's last bytes, a disconnect notice, then a connect notice for the new one.
/// The core queues notices apart from the pipe and delivers them first, and queues none when
/// a kept pipe's connection breaks: the new connection's notice overtakes the old
/// connection's unread bytes, and nothing says where one connection's bytes end. (The
/// simulator's STREAM clients connect with IMMEDIATE, one pipe per connection, for that
/// reason.)
#[test]
#[ignore = "open: a kept STREAM pipe's notices are not framed in its bytes as libzmq's are"]
fn a_kept_pipe_frames_each_connection_as_libzmq_does() {
    let mut s = Socket::new(SocketType::Stream, 0).unwrap();
    let p = PipeId(1);
    s.attach_pending_pipe(p, None).unwrap();
    s.peer_ready(p, PipePeer::new(SocketType::Stream)).unwrap();
    let hello = s.recv().unwrap();
    let rid = hello.frames()[0].to_bytes();
    let notice = Message::from_frames([rid.clone(), Bytes::new()]);
    assert_eq!(hello, notice);
    s.handle_inbound(p, PipeItem::Message(Message::single("old")))
        .unwrap();
    // The connection breaks; the session keeps the pipe and connects again.
    s.peer_ready(p, PipePeer::new(SocketType::Stream)).unwrap();
    let got: Vec<Message> = std::iter::from_fn(|| s.recv().ok()).collect();
    let old = Message::from_frames([rid.clone(), Bytes::from_static(b"old")]);
    assert_eq!(got, vec![old, notice.clone(), notice]);
}
