//! libzmq with CURVE, in a Python child process: pyzmq's wheels carry a libzmq built with
//! libsodium, which the `zmq` crate's build lacks. pyzmq is installed with pip the first time
//! it is missing (the test setup is the project's own); only where that fails do the tests
//! that need it say so and pass without checking anything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Whether pyzmq with CURVE is there, installing it with pip the first time it is not
/// (the test setup is the project's own); says so when it still is not.
pub fn available() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        let has = || {
            Command::new("python3")
                .args([
                    "-c",
                    "import sys, zmq; sys.exit(0 if zmq.has('curve') else 1)",
                ])
                .status()
                .is_ok_and(|s| s.success())
        };
        if has() {
            return true;
        }
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "pyzmq"])
            .status();
        let ok = has();
        if !ok {
            eprintln!("skipped: pyzmq with CURVE could not be installed (pip install pyzmq)");
        }
        ok
    })
}

/// The libzmq side, in Python. `server SECRET ZAP` binds a CURVE ROUTER (ZAP: `none`,
/// or the Z85 public key it lets in as "py-user"), prints its port, and echoes one
/// message with "!" and the User-Id libzmq gives it. `client SERVERKEY PORT` connects a
/// CURVE DEALER, prints its public key, sends "ping" and prints the reply, or the
/// monitor's verdict.
pub const PY: &str = r#"
import sys, threading, zmq
from zmq.utils import monitor, z85
ctx = zmq.Context()
mode = sys.argv[1]
if mode == "server":
    secret, zap = sys.argv[2].encode(), sys.argv[3]
    if zap != "none":
        handler = ctx.socket(zmq.REP)
        handler.bind("inproc://zeromq.zap.01")
        def serve():
            req = handler.recv_multipart()
            ok = z85.encode(req[6]).decode() == zap
            handler.send_multipart([b"1.0", req[1], b"200" if ok else b"400", b"", b"py-user" if ok else b"", b""])
        threading.Thread(target=serve, daemon=True).start()
    s = ctx.socket(zmq.ROUTER)
    s.heartbeat_ivl = 50
    s.curve_server = True
    s.curve_secretkey = secret
    s.curve_publickey = zmq.curve_public(secret)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print("port", port, flush=True)
    s.rcvtimeo = 20000
    frames = s.recv_multipart(copy=False)
    try:
        user = frames[-1].get("User-Id").encode()
    except Exception:
        user = b""
    s.send_multipart([frames[0].bytes, frames[-1].bytes + b"!", user])
    print("echoed", flush=True)
    s.rcvtimeo = 2000
    try:
        s.recv()
    except zmq.Again:
        pass
elif mode == "xpub":
    secret = sys.argv[2].encode()
    s = ctx.socket(zmq.XPUB)
    s.curve_server = True
    s.curve_secretkey = secret
    s.curve_publickey = zmq.curve_public(secret)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print("port", port, flush=True)
    s.rcvtimeo = 20000
    sub = s.recv()
    print("subscription", sub.hex(), flush=True)
    s.send_multipart([b"weather", b"sunny"])
    s.rcvtimeo = 2000
    try:
        s.recv()
    except zmq.Again:
        pass
elif mode == "sub":
    server, port = sys.argv[2].encode(), sys.argv[3]
    public, secret = zmq.curve_keypair()
    s = ctx.socket(zmq.SUB)
    s.curve_serverkey = server
    s.curve_publickey = public
    s.curve_secretkey = secret
    s.rcvtimeo = 20000
    s.subscribe(b"weather")
    s.connect("tcp://127.0.0.1:" + port)
    print("got", b"|".join(s.recv_multipart()).decode(), flush=True)
else:
    server, port = sys.argv[2].encode(), sys.argv[3]
    public, secret = zmq.curve_keypair()
    print("key", public.decode(), flush=True)
    s = ctx.socket(zmq.DEALER)
    s.curve_serverkey = server
    s.curve_publickey = public
    s.curve_secretkey = secret
    s.rcvtimeo = 20000
    mon = s.get_monitor_socket()
    s.connect("tcp://127.0.0.1:" + port)
    s.send(b"ping")
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    poller.register(mon, zmq.POLLIN)
    while True:
        ready = dict(poller.poll(20000))
        if not ready:
            print("timeout", flush=True)
            break
        if s in ready:
            print("reply", b"|".join(s.recv_multipart()).decode(), flush=True)
            break
        event = monitor.recv_monitor_message(mon)
        if event["event"] in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH):
            print("failed", event["event"], event["value"], flush=True)
            break
"#;

pub struct Py {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Py {
    pub fn start(args: &[&str]) -> Py {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PY)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let out = BufReader::new(child.stdout.take().expect("piped"));
        Py { child, out }
    }

    /// The next line the script prints (it prints within its own 20 s bounds).
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).expect("python output");
        l.trim_end().to_owned()
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
