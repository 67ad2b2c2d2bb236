//! CURVE connections between a socket on libsodium and one on RustCrypto, in both roles and on
//! both front-ends: the providers interoperate byte for byte (libzmq itself is checked in
//! `tests/tests/mio_security.rs`).

use oxmq_core::mechanism::curve::generate_keypair;
use oxmq_core::mechanism::{CurvePublicKey, CurveSecretKey};
use oxmq_core::{Message, SocketOption, SocketType};

fn keypair() -> (CurvePublicKey, CurveSecretKey) {
    generate_keypair(oxmq_core::rng::os_random().stream().as_mut())
}

/// The options of a CURVE server with `keys`, or of a client of the server `server`.
fn curve_options(
    server: Option<&(CurvePublicKey, CurveSecretKey)>,
    server_key: &CurvePublicKey,
) -> Vec<SocketOption> {
    match server {
        Some((public, secret)) => vec![
            SocketOption::CurveServer(true),
            SocketOption::CurvePublickey(*public),
            SocketOption::CurveSecretkey(secret.clone()),
        ],
        None => {
            let (public, secret) = keypair();
            vec![
                SocketOption::CurveServerkey(*server_key),
                SocketOption::CurvePublickey(public),
                SocketOption::CurveSecretkey(secret),
            ]
        }
    }
}

/// Messages of every size class, from empty to past the engine's batch size.
fn payloads() -> Vec<Vec<u8>> {
    [0usize, 1, 29, 30, 64, 255, 256, 8191, 8192, 100_000]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 13 + n) as u8).collect())
        .collect()
}

#[test]
fn mio_sockets_on_either_provider_talk_in_both_roles() {
    let server_keys = keypair();
    // (server on libsodium?, client on libsodium?)
    for (server_sodium, client_sodium) in [(true, false), (false, true), (true, true)] {
        let server_ctx = oxmq_mio::Context::new().unwrap();
        let client_ctx = oxmq_mio::Context::new().unwrap();
        if server_sodium {
            server_ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
        }
        if client_sodium {
            client_ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
        }
        let server = server_ctx.socket(SocketType::Pair).unwrap();
        for o in curve_options(Some(&server_keys), &server_keys.0) {
            server.set(o).unwrap();
        }
        let client = client_ctx.socket(SocketType::Pair).unwrap();
        for o in curve_options(None, &server_keys.0) {
            client.set(o).unwrap();
        }
        let ep = server.bind("tcp://127.0.0.1:*").unwrap();
        client.connect(&ep).unwrap();
        for p in payloads() {
            client.send(Message::from(p.clone())).unwrap();
            let m = server.recv().unwrap();
            assert_eq!(m.frames()[0], p, "client → server, {} bytes", p.len());
            server
                .send(Message::from_frames([p.clone(), b"more".to_vec()]))
                .unwrap();
            let m = client.recv().unwrap();
            assert_eq!(m.frames().len(), 2);
            assert_eq!(m.frames()[0], p, "server → client, {} bytes", p.len());
        }
    }
}

#[test]
fn a_client_with_the_wrong_server_key_is_refused_by_a_libsodium_server() {
    let server_keys = keypair();
    let (wrong, _) = keypair();
    let ctx = oxmq_mio::Context::new().unwrap();
    ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
    let server = ctx.socket(SocketType::Pull).unwrap();
    for o in curve_options(Some(&server_keys), &server_keys.0) {
        server.set(o).unwrap();
    }
    let mon = server.monitor();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let client_ctx = oxmq_mio::Context::new().unwrap();
    let client = client_ctx.socket(SocketType::Push).unwrap();
    for o in curve_options(None, &wrong) {
        client.set(o).unwrap();
    }
    client.connect(&ep).unwrap();
    loop {
        let e = mon
            .recv(std::time::Duration::from_secs(60))
            .expect("a monitor event within a minute");
        if e.kind == oxmq_core::monitor::MonitorEventKind::HandshakeFailedProtocol {
            break;
        }
        assert_ne!(
            e.kind,
            oxmq_core::monitor::MonitorEventKind::HandshakeSucceeded
        );
    }
}

#[tokio::test]
async fn tokio_on_libsodium_talks_to_mio_on_rustcrypto() {
    let server_keys = keypair();
    let ctx = oxmq_tokio::Context::new().unwrap();
    ctx.set_curve_crypto(&oxmq_sodium::LIBSODIUM);
    let server = ctx.socket(SocketType::Pull).unwrap();
    for o in curve_options(Some(&server_keys), &server_keys.0) {
        server.set(o).unwrap();
    }
    let ep = server.bind("tcp://127.0.0.1:*").await.unwrap();
    let client_ctx = oxmq_mio::Context::new().unwrap();
    let client = client_ctx.socket(SocketType::Push).unwrap();
    for o in curve_options(None, &server_keys.0) {
        client.set(o).unwrap();
    }
    client.connect(&ep).unwrap();
    for p in payloads() {
        client.send(Message::from(p.clone())).unwrap();
        assert_eq!(server.recv().await.unwrap().frames()[0], p);
    }
}
