//! oxmq's blocking front-end.

use oxmq_core::{Message, SocketOption, SocketType};

use crate::blocking::{Blocking, Socket};
use crate::spec::{Kind, Transport};

pub struct Oxmq(oxmq_mio::Context);

impl Blocking for Oxmq {
    type Socket = oxmq_mio::Socket;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn new() -> Self {
        let ctx = match crate::spec::io_threads() {
            Some(n) => oxmq_mio::Context::with_io_threads(n),
            None => oxmq_mio::Context::new(),
        };
        let ctx = ctx.expect("oxmq context");
        if let Some(d) = crate::spec::spin() {
            ctx.set(oxmq_mio::ContextOption::Spin(d)).expect("spin");
        }
        Oxmq(ctx)
    }

    fn socket(&self, kind: Kind, hwm: Option<usize>) -> oxmq_mio::Socket {
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
        let s = self.0.socket(kind).expect("oxmq socket");
        if let Some(n) = hwm {
            s.set(SocketOption::SndHwm(n)).expect("SNDHWM");
            s.set(SocketOption::RcvHwm(n)).expect("RCVHWM");
        }
        s
    }

    const CURVE: bool = true;
}

/// oxmq-mio with libsodium's CURVE crypto (`oxmq-sodium`) in place of RustCrypto's: the
/// same primitives libzmq's CURVE runs on. Measured on the CURVE workloads only.
pub struct OxmqSodium(Oxmq);

impl Blocking for OxmqSodium {
    type Socket = oxmq_mio::Socket;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp];

    fn new() -> Self {
        let o = Oxmq::new();
        o.0.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
        OxmqSodium(o)
    }

    fn socket(&self, kind: Kind, hwm: Option<usize>) -> oxmq_mio::Socket {
        self.0.socket(kind, hwm)
    }

    const CURVE: bool = true;
}

impl Socket for oxmq_mio::Socket {
    type Msg = Message;

    fn bind(&mut self, endpoint: &str) -> String {
        oxmq_mio::Socket::bind(self, endpoint).expect("oxmq bind")
    }

    fn connect(&mut self, endpoint: &str) {
        oxmq_mio::Socket::connect(self, endpoint).expect("oxmq connect");
    }

    fn subscribe_all(&mut self) {
        self.subscribe(b"").expect("oxmq subscribe");
    }

    fn message(&self, payload: &[u8]) -> Message {
        Message::from_slice(payload)
    }

    fn send(&mut self, msg: &Message) {
        oxmq_mio::Socket::send(self, msg.clone()).expect("oxmq send");
    }

    fn recv(&mut self) -> (usize, u8) {
        let m = oxmq_mio::Socket::recv(self).expect("oxmq recv");
        let last = m.frames().last().expect("a message has a frame");
        (last.len(), last.first().copied().unwrap_or(0))
    }

    fn curve(&mut self, server: bool) {
        for o in curve_options(server) {
            self.set(o).expect("a CURVE option");
        }
    }
}

/// The options that make a socket a CURVE server or client with the harness's keys.
pub fn curve_options(server: bool) -> Vec<SocketOption> {
    use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey};
    let public = |z: &str| CurvePublicKey::from_z85(z).expect("a Z85 public key");
    let secret = |z: &str| CurveSecretKey::from_z85(z).expect("a Z85 secret key");
    let (sp, ss) = crate::spec::CURVE_SERVER;
    let (cp, cs) = crate::spec::CURVE_CLIENT;
    if server {
        vec![
            SocketOption::CurveServer(true),
            SocketOption::CurvePublickey(public(sp)),
            SocketOption::CurveSecretkey(secret(ss)),
        ]
    } else {
        vec![
            SocketOption::CurveServerkey(public(sp)),
            SocketOption::CurvePublickey(public(cp)),
            SocketOption::CurveSecretkey(secret(cs)),
        ]
    }
}
