//! Two oxmq engines talking ZMTP over loopback TCP: a DEALER asks, a ROUTER answers, with
//! heartbeats on. Run with `cargo run --release -p oxmq-mio --example raw_engine`.

use std::net::TcpListener;
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::{EngineConfig, Message, SocketType};
use oxmq_mio::{Connection, DriverError};

const WAIT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("ROUTER listening on tcp://{addr}");

    let server = std::thread::spawn(move || -> Result<(), DriverError> {
        let mut cfg = EngineConfig::new(SocketType::Router);
        cfg.heartbeat_ivl = Duration::from_millis(20);
        let mut conn = Connection::accept(&listener, cfg)?;
        let peer = conn.wait_ready(WAIT)?.clone();
        println!(
            "ROUTER: handshake done with a {} peer, routing id {:?}",
            peer.socket_type.map_or("?", |t| t.as_str()),
            peer.routing_id.as_deref().map(String::from_utf8_lossy)
        );
        loop {
            let request = match conn.recv(WAIT) {
                Ok(m) => m,
                Err(DriverError::Connection(e)) => {
                    println!("ROUTER: connection ended: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let mut frames = request.into_frames();
            let body = frames.pop().unwrap_or_default();
            let mut reply = Message::from_frames(frames);
            let mut answer = b"world #".to_vec();
            answer.extend_from_slice(&body[b"hello #".len().min(body.len())..]);
            reply.push_back(answer);
            conn.send(&reply)?;
        }
    });

    let mut cfg = EngineConfig::new(SocketType::Dealer);
    cfg.routing_id = Some(Bytes::from_static(b"demo-client"));
    cfg.heartbeat_ivl = Duration::from_millis(20);
    let mut client = Connection::connect(addr, cfg)?;
    client.wait_ready(WAIT)?;
    for i in 1..=5 {
        let request = Message::from_frames([Bytes::new(), Bytes::from(format!("hello #{i}"))]);
        client.send(&request)?;
        let reply = client.recv(WAIT)?;
        let text: Vec<String> = reply
            .frames()
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        println!("DEALER: sent \"hello #{i}\", got {text:?}");
    }
    client.run_until(WAIT, |c| c.engine().stats().pongs_received >= 3)?;
    let stats = client.engine().stats();
    println!(
        "DEALER: heartbeats: {} PINGs sent, {} PONGs back, {} PINGs from the ROUTER",
        stats.pings_sent, stats.pongs_received, stats.pings_received
    );
    drop(client);
    server.join().expect("server thread")?;
    Ok(())
}
