//! ØMQ.rs, the `omq-tokio` crate: its owned context (one I/O runtime thread by default), with
//! the application tasks on that runtime, as its own benchmarks run it.

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
        let kind = match kind {
            Kind::Push => SocketType::Push,
            Kind::Pull => SocketType::Pull,
            Kind::Dealer => SocketType::Dealer,
            Kind::Router => SocketType::Router,
            Kind::Pub => SocketType::Pub,
            Kind::Sub => SocketType::Sub,
            Kind::Req => SocketType::Req,
            Kind::Rep => SocketType::Rep,
        };
        let mut options = Options::default();
        if let Some(n) = hwm {
            let n = u32::try_from(n).expect("hwm fits u32");
            options = options.send_hwm(n).recv_hwm(n);
        }
        self.0.socket(kind, options)
    }
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
