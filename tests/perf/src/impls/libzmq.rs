//! libzmq through the `zmq` crate (built from source with the libzmq it bundles).

use crate::blocking::{Blocking, Socket};
use crate::spec::{Kind, Transport};

pub struct Libzmq(zmq::Context);

pub struct Sock {
    s: zmq::Socket,
    msg: zmq::Message,
}

impl Blocking for Libzmq {
    type Socket = Sock;
    const TRANSPORTS: &'static [Transport] = &[Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn new() -> Self {
        let ctx = zmq::Context::new();
        if let Some(n) = crate::spec::io_threads() {
            let n = i32::try_from(n).expect("a thread count");
            ctx.set_io_threads(n).expect("ZMQ_IO_THREADS");
        }
        Libzmq(ctx)
    }

    fn socket(&self, kind: Kind, hwm: Option<usize>) -> Sock {
        let kind = match kind {
            Kind::Push => zmq::PUSH,
            Kind::Pull => zmq::PULL,
            Kind::Dealer => zmq::DEALER,
            Kind::Router => zmq::ROUTER,
            Kind::Pub => zmq::PUB,
            Kind::Sub => zmq::SUB,
            Kind::Req => zmq::REQ,
            Kind::Rep => zmq::REP,
        };
        let s = self.0.socket(kind).expect("libzmq socket");
        if let Some(n) = hwm {
            let n = i32::try_from(n).expect("hwm fits an int");
            s.set_sndhwm(n).expect("SNDHWM");
            s.set_rcvhwm(n).expect("RCVHWM");
        }
        Sock {
            s,
            msg: zmq::Message::new(),
        }
    }
}

impl Socket for Sock {
    type Msg = Vec<u8>;

    fn bind(&mut self, endpoint: &str) -> String {
        self.s.bind(endpoint).expect("libzmq bind");
        self.s
            .get_last_endpoint()
            .expect("last endpoint")
            .expect("utf-8 endpoint")
    }

    fn connect(&mut self, endpoint: &str) {
        self.s.connect(endpoint).expect("libzmq connect");
    }

    fn subscribe_all(&mut self) {
        self.s.set_subscribe(b"").expect("libzmq subscribe");
    }

    fn message(&self, payload: &[u8]) -> Vec<u8> {
        payload.to_vec()
    }

    /// `zmq_send`: libzmq copies the bytes into a message of its own, as a C user's call does.
    fn send(&mut self, msg: &Vec<u8>) {
        self.s.send(&msg[..], 0).expect("libzmq send");
    }

    /// `zmq_msg_recv` into one reused message, frame by frame: libzmq's no-copy receive.
    fn recv(&mut self) -> (usize, u8) {
        loop {
            self.s.recv(&mut self.msg, 0).expect("libzmq recv");
            if !self.msg.get_more() {
                return (self.msg.len(), self.msg.first().copied().unwrap_or(0));
            }
        }
    }
}
