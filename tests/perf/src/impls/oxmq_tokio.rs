//! oxmq's async front-end on a Tokio runtime the harness makes (the crate starts none of its
//! own): sessions are tasks on it, as are the sender and the receiver. Two forms: a
//! multi-thread runtime (Tokio's default), and a current-thread one, where the application's
//! tasks and the sessions share one thread (the co-located form, as ØMQ.rs runs by default).

use oxmq_core::{Message, SocketOption, SocketType};

use crate::nonblocking::{Async, Socket};
use crate::spec::{Kind, Transport};

/// `CURRENT_THREAD`: one thread for everything, or Tokio's multi-thread runtime.
pub struct OxmqTokio<const CURRENT_THREAD: bool> {
    rt: tokio::runtime::Runtime,
    ctx: oxmq_tokio::Context,
}

impl<const CURRENT_THREAD: bool> Async for OxmqTokio<CURRENT_THREAD> {
    type Socket = oxmq_tokio::Socket;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn new() -> Self {
        let mut builder = if CURRENT_THREAD {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        };
        let rt = builder.enable_all().build().expect("tokio runtime");
        let ctx = oxmq_tokio::Context::with_runtime(rt.handle().clone());
        OxmqTokio { rt, ctx }
    }

    fn block_on<F, T>(&self, f: F) -> T
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.rt.block_on(f)
    }

    async fn socket(&self, kind: Kind, hwm: Option<usize>) -> oxmq_tokio::Socket {
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
        let s = self.ctx.socket(kind).expect("oxmq-tokio socket");
        if let Some(n) = hwm {
            s.set(SocketOption::SndHwm(n)).expect("SNDHWM");
            s.set(SocketOption::RcvHwm(n)).expect("RCVHWM");
        }
        s
    }

    const CURVE: bool = true;
}

impl Socket for oxmq_tokio::Socket {
    type Msg = Message;

    async fn bind(&mut self, endpoint: &str) -> String {
        oxmq_tokio::Socket::bind(self, endpoint)
            .await
            .expect("oxmq-tokio bind")
    }

    async fn connect(&mut self, endpoint: &str) {
        oxmq_tokio::Socket::connect(self, endpoint)
            .await
            .expect("oxmq-tokio connect");
    }

    async fn subscribe_all(&mut self) {
        self.subscribe(b"").expect("oxmq-tokio subscribe");
    }

    fn message(payload: &[u8]) -> Message {
        Message::from_slice(payload)
    }

    async fn send(&mut self, msg: &Message) {
        oxmq_tokio::Socket::send(self, msg.clone())
            .await
            .expect("oxmq-tokio send");
    }

    async fn recv(&mut self) -> (usize, u8) {
        let m = oxmq_tokio::Socket::recv(self)
            .await
            .expect("oxmq-tokio recv");
        let last = m.frames().last().expect("a message has a frame");
        (last.len(), last.first().copied().unwrap_or(0))
    }

    fn curve(&mut self, server: bool) {
        for o in super::oxmq::curve_options(server) {
            self.set(o).expect("a CURVE option");
        }
    }
}
