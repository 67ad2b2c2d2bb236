//! The three classic devices, async, each a `proxy` task between two sockets: QUEUE
//! (ROUTER/DEALER, for request-reply), FORWARDER (XSUB/XPUB, for publish-subscribe) and
//! STREAMER (PULL/PUSH, for pipelines). Run with
//! `cargo run --release -p oxmq-tokio --example async_devices`.

use std::time::Duration;

use oxmq_tokio::{proxy, Context, Error, Message, SocketType};

/// Starts a device between a bound `front` and a bound `back`, as a task.
async fn device(
    ctx: &Context,
    front: SocketType,
    back: SocketType,
    name: &str,
) -> Result<tokio::task::JoinHandle<Result<(), Error>>, Error> {
    let f = ctx.socket(front)?;
    f.bind(&format!("inproc://{name}-front")).await?;
    let b = ctx.socket(back)?;
    b.bind(&format!("inproc://{name}-back")).await?;
    Ok(tokio::spawn(async move { proxy(&f, &b, None).await }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = Context::new()?;

    // QUEUE: clients' REQ → ROUTER | DEALER → workers' REP.
    let queue = device(&ctx, SocketType::Router, SocketType::Dealer, "queue").await?;
    let worker = ctx.socket(SocketType::Rep)?;
    worker.connect("inproc://queue-back").await?;
    let client = ctx.socket(SocketType::Req)?;
    client.connect("inproc://queue-front").await?;
    client.send("2 + 2").await?;
    let q = worker.recv().await?;
    worker.send("4").await?;
    println!(
        "QUEUE: worker got {:?}, client got {:?}",
        q,
        client.recv().await?
    );

    // FORWARDER: publishers → XSUB | XPUB → subscribers; subscriptions travel upstream.
    let forwarder = device(&ctx, SocketType::XSub, SocketType::XPub, "forwarder").await?;
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.connect("inproc://forwarder-front").await?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.subscribe(b"news")?;
    subscriber.connect("inproc://forwarder-back").await?;
    // The subscription needs a moment to travel through the device; publish until it lands.
    let got = loop {
        publisher.send("news: devices work").await?;
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(10), subscriber.recv()).await {
            break m?;
        }
    };
    println!("FORWARDER: subscriber got {got:?}");

    // STREAMER: a ventilator's PUSH → PULL | PUSH → workers' PULL.
    let streamer = device(&ctx, SocketType::Pull, SocketType::Push, "streamer").await?;
    let ventilator = ctx.socket(SocketType::Push)?;
    ventilator.connect("inproc://streamer-front").await?;
    let sink = ctx.socket(SocketType::Pull)?;
    sink.connect("inproc://streamer-back").await?;
    ventilator.send("task").await?;
    assert_eq!(sink.recv().await?, Message::from("task"));
    println!("STREAMER: task passed through");

    for d in [queue, forwarder, streamer] {
        d.abort();
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
