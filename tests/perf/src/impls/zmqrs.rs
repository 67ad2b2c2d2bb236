//! zmq.rs, the `zeromq` crate, on a multi-threaded Tokio runtime (its default runtime). It
//! has tcp and ipc, no inproc, and no high-water-mark options.

use bytes::Bytes;
use zeromq::{Socket as _, SocketRecv, SocketSend, ZmqMessage};

use crate::nonblocking::{Async, Socket};
use crate::spec::{Kind, Transport};

pub struct ZmqRs(tokio::runtime::Runtime);

/// One socket of whichever type: zmq.rs has a type per socket kind.
pub enum Sock {
    Push(zeromq::PushSocket),
    Pull(zeromq::PullSocket),
    Dealer(zeromq::DealerSocket),
    Router(zeromq::RouterSocket),
    Pub(zeromq::PubSocket),
    Sub(zeromq::SubSocket),
    Req(zeromq::ReqSocket),
    Rep(zeromq::RepSocket),
}

impl Async for ZmqRs {
    type Socket = Sock;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc];

    fn new() -> Self {
        ZmqRs(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        )
    }

    fn block_on<F, T>(&self, f: F) -> T
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.0.block_on(f)
    }

    async fn socket(&self, kind: Kind, _hwm: Option<usize>) -> Sock {
        match kind {
            Kind::Push => Sock::Push(zeromq::PushSocket::new()),
            Kind::Pull => Sock::Pull(zeromq::PullSocket::new()),
            Kind::Dealer => Sock::Dealer(zeromq::DealerSocket::new()),
            Kind::Router => Sock::Router(zeromq::RouterSocket::new()),
            Kind::Pub => Sock::Pub(zeromq::PubSocket::new()),
            Kind::Sub => Sock::Sub(zeromq::SubSocket::new()),
            Kind::Req => Sock::Req(zeromq::ReqSocket::new()),
            Kind::Rep => Sock::Rep(zeromq::RepSocket::new()),
        }
    }
}

macro_rules! each {
    ($sock:expr, $s:ident => $body:expr) => {
        match $sock {
            Sock::Push($s) => $body,
            Sock::Pull($s) => $body,
            Sock::Dealer($s) => $body,
            Sock::Router($s) => $body,
            Sock::Pub($s) => $body,
            Sock::Sub($s) => $body,
            Sock::Req($s) => $body,
            Sock::Rep($s) => $body,
        }
    };
}

impl Socket for Sock {
    type Msg = Bytes;

    async fn bind(&mut self, endpoint: &str) -> String {
        each!(self, s => s.bind(endpoint).await.expect("zmq.rs bind").to_string())
    }

    async fn connect(&mut self, endpoint: &str) {
        each!(self, s => s.connect(endpoint).await.expect("zmq.rs connect"))
    }

    async fn subscribe_all(&mut self) {
        match self {
            Sock::Sub(s) => s.subscribe("").await.expect("zmq.rs subscribe"),
            _ => panic!("subscribe on a socket that is not SUB"),
        }
    }

    fn message(payload: &[u8]) -> Bytes {
        Bytes::copy_from_slice(payload)
    }

    async fn send(&mut self, msg: &Bytes) {
        let m = ZmqMessage::from(msg.clone());
        let r = match self {
            Sock::Push(s) => s.send(m).await,
            Sock::Dealer(s) => s.send(m).await,
            Sock::Pub(s) => s.send(m).await,
            Sock::Req(s) => s.send(m).await,
            Sock::Rep(s) => s.send(m).await,
            _ => panic!("send on a receive-only socket"),
        };
        r.expect("zmq.rs send");
    }

    async fn recv(&mut self) -> (usize, u8) {
        let r = match self {
            Sock::Pull(s) => s.recv().await,
            Sock::Dealer(s) => s.recv().await,
            Sock::Router(s) => s.recv().await,
            Sock::Sub(s) => s.recv().await,
            Sock::Req(s) => s.recv().await,
            Sock::Rep(s) => s.recv().await,
            _ => panic!("recv on a send-only socket"),
        };
        let m = r.expect("zmq.rs recv");
        let last = m.get(m.len() - 1).expect("a message has a frame");
        (last.len(), last.first().copied().unwrap_or(0))
    }
}
