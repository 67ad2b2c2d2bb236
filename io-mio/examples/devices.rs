//! The three classic devices, each a `proxy` between two sockets: QUEUE (ROUTER/DEALER, for
//! request-reply), FORWARDER (XSUB/XPUB, for publish-subscribe) and STREAMER (PULL/PUSH, for
//! pipelines). Run with `cargo run --release -p oxmq-mio --example devices`.

use oxmq_core::{Message, SocketType};
use oxmq_mio::{proxy, Context, Error};

/// Starts a device between a bound `front` and a bound `back`; returns their endpoints.
fn device(ctx: &Context, front: SocketType, back: SocketType, name: &str) -> Result<(), Error> {
    let f = ctx.socket(front)?;
    f.bind(&format!("inproc://{name}-front"))?;
    let b = ctx.socket(back)?;
    b.bind(&format!("inproc://{name}-back"))?;
    std::thread::spawn(move || proxy(&f, &b, None));
    Ok(())
}

fn main() -> Result<(), Error> {
    let ctx = Context::new()?;

    // QUEUE: clients' REQ → ROUTER | DEALER → workers' REP.
    device(&ctx, SocketType::Router, SocketType::Dealer, "queue")?;
    let worker = ctx.socket(SocketType::Rep)?;
    worker.connect("inproc://queue-back")?;
    let client = ctx.socket(SocketType::Req)?;
    client.connect("inproc://queue-front")?;
    client.send("2 + 2")?;
    let q = worker.recv()?;
    worker.send("4")?;
    println!("QUEUE: worker got {:?}, client got {:?}", q, client.recv()?);

    // FORWARDER: publishers → XSUB | XPUB → subscribers; subscriptions travel upstream.
    device(&ctx, SocketType::XSub, SocketType::XPub, "forwarder")?;
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.connect("inproc://forwarder-front")?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.subscribe(b"news")?;
    subscriber.connect("inproc://forwarder-back")?;
    // The subscription needs a moment to travel through the device; publish until it lands.
    let got = loop {
        publisher.send("news: devices work")?;
        if let Ok(m) = subscriber.recv_timeout(std::time::Duration::from_millis(10)) {
            break m;
        }
    };
    println!("FORWARDER: subscriber got {got:?}");

    // STREAMER: a ventilator's PUSH → PULL | PUSH → workers' PULL.
    device(&ctx, SocketType::Pull, SocketType::Push, "streamer")?;
    let ventilator = ctx.socket(SocketType::Push)?;
    ventilator.connect("inproc://streamer-front")?;
    let sink = ctx.socket(SocketType::Pull)?;
    sink.connect("inproc://streamer-back")?;
    ventilator.send("task")?;
    assert_eq!(sink.recv()?, Message::from("task"));
    println!("STREAMER: task passed through");

    ctx.term();
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
