//! The `oxmq` tool against libzmq peers: PUSH/PULL, PUB/SUB and REQ/REP in both roles,
//! proxy, monitor, security and bench, each on both front-ends (`--front-end mio` and
//! `--front-end tokio`), plus help and error exits.

use std::process::{Child, Command, Output, Stdio};

const OXMQ: &str = env!("CARGO_BIN_EXE_oxmq");
const WAIT_MS: i32 = 20_000;

fn free_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://{}", l.local_addr().unwrap())
}

/// The tool on front-end `fe` ("mio" or "tokio").
fn spawn_on(fe: &str, args: &[&str]) -> Child {
    Command::new(OXMQ)
        .args(["--front-end", fe])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// The tool exited 0; its standard error is the failure message otherwise.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_linger(2000).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_sndtimeo(WAIT_MS).unwrap();
    s
}

fn recv_pull_prints_frames_from_a_libzmq_push(fe: &str) {
    let ep = free_endpoint();
    let child = spawn_on(fe, &["recv", "PULL", "--bind", &ep, "--count", "3"]);
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&ep).unwrap();
    push.send_multipart([&b"hello"[..], b"world"], 0).unwrap();
    push.send(&[0u8, 0xff][..], 0).unwrap();
    push.send_multipart([&b""[..], b"x"], 0).unwrap();
    let out = finish(child);
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\tworld\n0x00ff\n\tx\n"
    );
}

fn send_push_delivers_to_a_libzmq_pull_and_exits_zero(fe: &str) {
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let child = spawn_on(
        fe,
        &["send", "push", "--connect", &ep, "--count", "2", "a|b", "c"],
    );
    let got: Vec<Vec<Vec<u8>>> = (0..4).map(|_| pull.recv_multipart(0).unwrap()).collect();
    assert_eq!(
        got,
        [
            vec![b"a".to_vec(), b"b".to_vec()],
            vec![b"c".to_vec()],
            vec![b"a".to_vec(), b"b".to_vec()],
            vec![b"c".to_vec()]
        ]
    );
    let out = finish(child);
    assert_success(&out);
}

fn send_reads_messages_from_stdin(fe: &str) {
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let mut child = Command::new(OXMQ)
        .args(["--front-end", fe, "send", "PUSH", "--connect", &ep])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"line one\nk|v\n").unwrap();
    }
    assert_eq!(pull.recv_multipart(0).unwrap(), vec![b"line one".to_vec()]);
    assert_eq!(
        pull.recv_multipart(0).unwrap(),
        vec![b"k".to_vec(), b"v".to_vec()]
    );
    assert!(finish(child).status.success());
}

fn recv_sub_gets_only_its_topic_from_a_libzmq_publisher(fe: &str) {
    let ctx = zmq::Context::new();
    // An XPUB shows when the subscription has arrived, so nothing is published too early.
    let publisher = zsock(&ctx, zmq::XPUB);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let ep = publisher.get_last_endpoint().unwrap().unwrap();
    let child = spawn_on(
        fe,
        &[
            "recv",
            "sub",
            "--connect",
            &ep,
            "--subscribe",
            "weather",
            "--count",
            "2",
        ],
    );
    assert_eq!(publisher.recv_bytes(0).unwrap(), b"\x01weather");
    for _ in 0..2 {
        publisher.send("sports 1-0", 0).unwrap();
        publisher.send("weather sun", 0).unwrap();
    }
    let out = finish(child);
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "weather sun\nweather sun\n"
    );
}

fn send_pub_waits_for_a_libzmq_subscriber(fe: &str) {
    let ep = free_endpoint();
    let child = spawn_on(fe, &["send", "PUB", "--bind", &ep, "weather|rain"]);
    let ctx = zmq::Context::new();
    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"weather").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(
        sub.recv_multipart(0).unwrap(),
        vec![b"weather".to_vec(), b"rain".to_vec()]
    );
    assert!(finish(child).status.success());
}

fn echo_rep_answers_a_libzmq_req(fe: &str) {
    let ep = free_endpoint();
    let child = spawn_on(fe, &["echo", "rep", "--bind", &ep, "--count", "2"]);
    let ctx = zmq::Context::new();
    let req = zsock(&ctx, zmq::REQ);
    req.connect(&ep).unwrap();
    for word in ["ping", "again"] {
        req.send(word, 0).unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), word.as_bytes());
    }
    assert!(finish(child).status.success());
}

fn send_req_prints_the_reply_of_a_libzmq_rep(fe: &str) {
    let ctx = zmq::Context::new();
    let rep = zsock(&ctx, zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let child = spawn_on(fe, &["send", "REQ", "--connect", &ep, "hello"]);
    assert_eq!(rep.recv_bytes(0).unwrap(), b"hello");
    rep.send("world", 0).unwrap();
    let out = finish(child);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "world\n");
}

#[test]
fn help_usage_and_errors_exit_with_clear_codes() {
    let help = Command::new(OXMQ).arg("--help").output().unwrap();
    assert!(help.status.success());
    for cmd in ["recv", "send", "echo", "proxy", "monitor"] {
        let h = Command::new(OXMQ).args([cmd, "--help"]).output().unwrap();
        assert!(h.status.success(), "{cmd} --help");
    }
    let bad_type = Command::new(OXMQ)
        .args(["recv", "nonsense", "--bind", "tcp://127.0.0.1:*"])
        .output()
        .unwrap();
    assert_eq!(bad_type.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_type.stderr).contains("unknown socket type"));
    let bad_ep = Command::new(OXMQ)
        .args(["recv", "pull", "--bind", "tcp://127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(bad_ep.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_ep.stderr).contains("cannot bind tcp://127.0.0.1"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", taken.local_addr().unwrap());
    let in_use = Command::new(OXMQ)
        .args(["recv", "pull", "--bind", &ep])
        .output()
        .unwrap();
    assert_eq!(in_use.status.code(), Some(1));
    let err = String::from_utf8_lossy(&in_use.stderr).to_lowercase();
    assert!(err.contains("in use"), "{err}");
    let none = Command::new(OXMQ).args(["recv", "pull"]).output().unwrap();
    assert_eq!(none.status.code(), Some(1));
}

fn proxy_forwards_between_libzmq_peers_and_monitor_prints_events(fe: &str) {
    let (front, back) = (free_endpoint(), free_endpoint());
    let mut proxy = spawn_on(fe, &["proxy", "pull", &front, "push", &back]);
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&front).unwrap();
    let pull = zsock(&ctx, zmq::PULL);
    pull.connect(&back).unwrap();
    push.send("through the proxy", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"through the proxy");
    proxy.kill().unwrap();
    let _ = proxy.wait();

    let ep = free_endpoint();
    let monitor = spawn_on(fe, &["monitor", "pull", "--bind", &ep, "--count", "3"]);
    let dealer = zsock(&ctx, zmq::PUSH);
    dealer.connect(&ep).unwrap();
    let out = finish(monitor);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let kinds: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED"],
        "{text}"
    );
}

/// `oxmq keygen` as (public, secret), Z85.
fn keygen() -> (String, String) {
    let out = Command::new(OXMQ).arg("keygen").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let public = lines.next().unwrap().strip_prefix("public: ").unwrap();
    let secret = lines.next().unwrap().strip_prefix("secret: ").unwrap();
    (public.to_owned(), secret.to_owned())
}

#[test]
fn keygen_prints_a_matching_z85_key_pair() {
    use oxmq_core::mechanism::curve::public_key;
    use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey};
    let (public, secret) = keygen();
    assert_eq!((public.len(), secret.len()), (40, 40));
    let secret = CurveSecretKey::from_z85(&secret).unwrap();
    assert_eq!(
        public_key(&secret),
        CurvePublicKey::from_z85(&public).unwrap()
    );
    assert_ne!(keygen().0, public, "each run draws a new pair");
}

fn curve_flags_carry_a_message_and_the_server_lets_in_only_allowed_keys(fe: &str) {
    let (server_public, server_secret) = keygen();
    let (client_public, client_secret) = keygen();
    let ep = free_endpoint();
    let recv = spawn_on(
        fe,
        &[
            "recv",
            "PULL",
            "--bind",
            &ep,
            "--count",
            "1",
            "--curve-server",
            "--curve-secretkey",
            &server_secret,
            "--curve-allow",
            &client_public,
        ],
    );
    // A client whose key is not allowed is refused; the allowed one gets through.
    let mut stranger = spawn_on(
        fe,
        &[
            "send",
            "PUSH",
            "--connect",
            &ep,
            "--curve-serverkey",
            &server_public,
            "from a stranger",
        ],
    );
    let send = spawn_on(
        fe,
        &[
            "send",
            "PUSH",
            "--connect",
            &ep,
            "--curve-serverkey",
            &server_public,
            "--curve-secretkey",
            &client_secret,
            "sealed hello",
        ],
    );
    let out = finish(recv);
    assert_success(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sealed hello\n");
    assert!(finish(send).status.success());
    let _ = stranger.kill();
    let _ = stranger.wait();
}

fn plain_flags_carry_a_message_from_a_libzmq_client(fe: &str) {
    let ep = free_endpoint();
    let recv = spawn_on(
        fe,
        &[
            "recv",
            "PULL",
            "--bind",
            &ep,
            "--count",
            "1",
            "--plain-server",
            "--plain-user",
            "admin:secret",
        ],
    );
    let ctx = zmq::Context::new();
    let wrong = zsock(&ctx, zmq::PUSH);
    wrong.set_linger(0).unwrap();
    wrong.set_plain_username(Some("admin")).unwrap();
    wrong.set_plain_password(Some("guess")).unwrap();
    wrong.connect(&ep).unwrap();
    let _ = wrong.send("must not arrive", zmq::DONTWAIT);
    let push = zsock(&ctx, zmq::PUSH);
    push.set_plain_username(Some("admin")).unwrap();
    push.set_plain_password(Some("secret")).unwrap();
    push.connect(&ep).unwrap();
    push.send("logged in", 0).unwrap();
    let out = finish(recv);
    assert_success(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "logged in\n");
}

fn bench_thr_recv_times_a_libzmq_stream_and_thr_send_feeds_libzmq(fe: &str) {
    // Our local_thr, libzmq's remote_thr side.
    let ep = free_endpoint();
    let child = spawn_on(
        fe,
        &[
            "bench", "thr-recv", "--bind", &ep, "--size", "100", "--count", "5000",
        ],
    );
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&ep).unwrap();
    for _ in 0..5000 {
        push.send(&[7u8; 100][..], 0).unwrap();
    }
    let out = finish(child);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("throughput: 5000 messages of 100 B in "),
        "{text}"
    );
    assert!(text.contains(" msg/s, "), "{text}");

    // Our remote_thr, libzmq's local_thr side: every message arrives, of the right size.
    let pull = zsock(&ctx, zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let child = spawn_on(
        fe,
        &[
            "bench",
            "thr-send",
            "--connect",
            &ep,
            "--size",
            "10",
            "--count",
            "3000",
        ],
    );
    for _ in 0..3000 {
        assert_eq!(pull.recv_bytes(0).unwrap().len(), 10);
    }
    assert!(finish(child).status.success());
}

fn bench_lat_ping_times_round_trips_with_a_libzmq_echo(fe: &str) {
    let ctx = zmq::Context::new();
    let rep = zsock(&ctx, zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let echo = std::thread::spawn(move || {
        for _ in 0..500 {
            let m = rep.recv_bytes(0).unwrap();
            rep.send(m, 0).unwrap();
        }
    });
    let out = finish(spawn_on(
        fe,
        &[
            "bench",
            "lat-ping",
            "--connect",
            &ep,
            "--size",
            "32",
            "--count",
            "500",
        ],
    ));
    echo.join().unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("latency: 500 round trips of 32 B: p50 "),
        "{text}"
    );
}

fn common_socket_options_apply_and_bad_ones_fail_clearly(fe: &str) {
    // A routing id set on the command line is what a libzmq ROUTER sees.
    let ctx = zmq::Context::new();
    let router = zsock(&ctx, zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = router.get_last_endpoint().unwrap().unwrap();
    let child = spawn_on(
        fe,
        &[
            "send",
            "dealer",
            "--connect",
            &ep,
            "--routing-id",
            "cli-peer",
            "--sndhwm",
            "10",
            "--linger",
            "-1",
            "--heartbeat-ivl",
            "100",
            "hi",
        ],
    );
    let frames = router.recv_multipart(0).unwrap();
    assert_eq!(frames, [b"cli-peer".to_vec(), b"hi".to_vec()]);
    assert!(finish(child).status.success());
    // A routing id libzmq would refuse (empty) is a clear runtime error.
    let out = Command::new(OXMQ)
        .args([
            "--front-end",
            fe,
            "send",
            "dealer",
            "--connect",
            &ep,
            "--routing-id",
            "",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RoutingId"));
}

#[test]
fn z85_keys_that_start_with_a_hyphen_are_values_not_flags() {
    // '-' is a Z85 digit: a key may start with it, and must still be taken as the value.
    let out = Command::new(OXMQ)
        .args([
            "send",
            "push",
            "--connect",
            "tcp://127.0.0.1:1",
            "--curve-serverkey",
            "-bad-key",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a runtime error, not a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad --curve-serverkey"));
}

/// Each command's test on each front-end.
macro_rules! on_both_front_ends {
    ($($case:ident),* $(,)?) => {
        mod mio {
            $(
                #[test]
                fn $case() {
                    super::$case("mio");
                }
            )*
        }
        mod tokio {
            $(
                #[test]
                fn $case() {
                    super::$case("tokio");
                }
            )*
        }
    };
}

on_both_front_ends!(
    recv_pull_prints_frames_from_a_libzmq_push,
    send_push_delivers_to_a_libzmq_pull_and_exits_zero,
    send_reads_messages_from_stdin,
    recv_sub_gets_only_its_topic_from_a_libzmq_publisher,
    send_pub_waits_for_a_libzmq_subscriber,
    echo_rep_answers_a_libzmq_req,
    send_req_prints_the_reply_of_a_libzmq_rep,
    proxy_forwards_between_libzmq_peers_and_monitor_prints_events,
    curve_flags_carry_a_message_and_the_server_lets_in_only_allowed_keys,
    plain_flags_carry_a_message_from_a_libzmq_client,
    bench_thr_recv_times_a_libzmq_stream_and_thr_send_feeds_libzmq,
    bench_lat_ping_times_round_trips_with_a_libzmq_echo,
    common_socket_options_apply_and_bad_ones_fail_clearly,
);
