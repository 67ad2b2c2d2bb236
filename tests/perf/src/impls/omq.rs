//! ØMQ.rs, the `omq-tokio` crate, in both of its forms: async, with the application tasks on
//! its owned context's runtime (one I/O thread by default) as its own benchmarks run it, and
//! blocking, with sockets on the application's threads.

use omq_tokio::options::Options;
use omq_tokio::{Context, Message, SocketType};

use crate::nonblocking::{Async, Socket};
use crate::spec::{Kind, Transport};

pub struct Omq(Context);

impl Async for Omq {
    type Socket = omq_tokio::Socket;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn new() -> Self {
        Omq(Context::new())
    }

    fn block_on<F, T>(&self, f: F) -> T
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.0.block_on(f)
    }

    async fn socket(&self, kind: Kind, hwm: Option<usize>) -> omq_tokio::Socket {
        self.0.socket(socket_type(kind), options(hwm))
    }
}

fn socket_type(kind: Kind) -> SocketType {
    match kind {
        Kind::Push => SocketType::Push,
        Kind::Pull => SocketType::Pull,
        Kind::Dealer => SocketType::Dealer,
        Kind::Router => SocketType::Router,
        Kind::Pub => SocketType::Pub,
        Kind::Sub => SocketType::Sub,
        Kind::Req => SocketType::Req,
        Kind::Rep => SocketType::Rep,
    }
}

/// Both high-water marks raised where the workload asks.
fn options(hwm: Option<usize>) -> Options {
    let mut options = Options::default();
    if let Some(n) = hwm {
        let n = u32::try_from(n).expect("hwm fits u32");
        options = options.send_hwm(n).recv_hwm(n);
    }
    options
}

impl Socket for omq_tokio::Socket {
    type Msg = Message;

    async fn bind(&mut self, endpoint: &str) -> String {
        omq_tokio::Socket::bind(self, endpoint)
            .await
            .expect("omq bind")
            .to_string()
    }

    async fn connect(&mut self, endpoint: &str) {
        omq_tokio::Socket::connect(self, endpoint)
            .await
            .expect("omq connect");
    }

    async fn subscribe_all(&mut self) {
        self.subscribe(bytes::Bytes::new())
            .await
            .expect("omq subscribe");
    }

    fn message(payload: &[u8]) -> Message {
        Message::from_slice(payload)
    }

    async fn send(&mut self, msg: &Message) {
        omq_tokio::Socket::send(self, msg.clone())
            .await
            .expect("omq send");
    }

    async fn recv(&mut self) -> (usize, u8) {
        let m = omq_tokio::Socket::recv(self).await.expect("omq recv");
        let last = m.last_payload().expect("a message has a frame");
        let bytes = last.as_slice();
        (bytes.len(), bytes.first().copied().unwrap_or(0))
    }
}

/// ØMQ.rs's blocking form (`omq_tokio::blocking`): sockets on the application's own threads,
/// its I/O on the context's runtime thread, the shape of libzmq and oxmq-mio.
pub struct OmqBlocking(Context);

impl crate::blocking::Blocking for OmqBlocking {
    type Socket = BlockingSock;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn new() -> Self {
        OmqBlocking(Context::new())
    }

    fn socket(&self, kind: Kind, hwm: Option<usize>) -> BlockingSock {
        BlockingSock(self.0.blocking_socket(socket_type(kind), options(hwm)))
    }
}

pub struct BlockingSock(omq_tokio::blocking::Socket);

impl crate::blocking::Socket for BlockingSock {
    type Msg = Message;

    fn bind(&mut self, endpoint: &str) -> String {
        self.0.bind(endpoint).expect("omq bind").to_string()
    }

    fn connect(&mut self, endpoint: &str) {
        self.0.connect(endpoint).expect("omq connect");
    }

    fn subscribe_all(&mut self) {
        self.0
            .subscribe(bytes::Bytes::new())
            .expect("omq subscribe");
    }

    fn message(&self, payload: &[u8]) -> Message {
        Message::from_slice(payload)
    }

    fn send(&mut self, msg: &Message) {
        self.0.send(msg.clone()).expect("omq send");
    }

    fn recv(&mut self) -> (usize, u8) {
        let m = self.0.recv().expect("omq recv");
        let last = m.last_payload().expect("a message has a frame");
        let bytes = last.as_slice();
        (bytes.len(), bytes.first().copied().unwrap_or(0))
    }
}
