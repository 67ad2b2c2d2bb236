//! zguide's weather update server and client, async: a publisher task sends
//! "zipcode temperature humidity" updates; a SUB keeps only one zipcode and averages its
//! temperature. Run with `cargo run --release -p oxmq-tokio --example async_weather`.

use oxmq_tokio::{Context, Error, SocketType};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let publisher = ctx.socket(SocketType::XPub)?;
    let endpoint = publisher.bind("tcp://127.0.0.1:*").await?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.subscribe(b"10001 ")?;
    subscriber.connect(&endpoint).await?;
    // An XPUB shows the subscription arriving, so no update is published into the void.
    let subscription = publisher.recv().await?;
    println!(
        "publisher saw subscription {:?}",
        String::from_utf8_lossy(&subscription.frames()[0][1..])
    );
    let server = tokio::spawn(async move {
        // A small deterministic sequence instead of random weather.
        let mut seed: u32 = 7;
        let mut sent_for_us = 0;
        while sent_for_us < 20 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let zipcode = if seed.is_multiple_of(5) {
                10001
            } else {
                10000 + (seed >> 8) % 1000 + 2
            };
            let temperature = (seed >> 4) % 100;
            let update = format!("{zipcode:05} {temperature} {}", (seed >> 12) % 60 + 10);
            publisher.send(update.into_bytes()).await?;
            sent_for_us += u32::from(zipcode == 10001);
        }
        Ok::<_, Error>(())
    });
    let mut total = 0u64;
    for _ in 0..20 {
        let update = subscriber.recv().await?;
        let text = String::from_utf8_lossy(&update.frames()[0]).into_owned();
        assert!(
            text.starts_with("10001 "),
            "only the subscribed zipcode: {text}"
        );
        total += text
            .split(' ')
            .nth(1)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
    }
    server.await.expect("publisher task")?;
    println!("average temperature for zipcode 10001 was {}F", total / 20);
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
