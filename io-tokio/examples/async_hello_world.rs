//! zguide's hello world, async: a REP server task answers "World" to each "Hello" from a
//! REQ client. Run with `cargo run --release -p oxmq-tokio --example async_hello_world`.

use oxmq_tokio::{Context, Error, Message, SocketType};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let server = ctx.socket(SocketType::Rep)?;
    let endpoint = server.bind("tcp://127.0.0.1:*").await?;
    println!("server bound to {endpoint}");
    let worker = tokio::spawn(async move {
        for _ in 0..10 {
            let request = server.recv().await?;
            println!(
                "server received {:?}",
                String::from_utf8_lossy(&request.frames()[0])
            );
            server.send("World").await?;
        }
        Ok::<_, Error>(())
    });
    let client = ctx.socket(SocketType::Req)?;
    client.connect(&endpoint).await?;
    for n in 0..10 {
        client.send("Hello").await?;
        let reply = client.recv().await?;
        assert_eq!(reply, Message::from("World"));
        println!(
            "client request {n}: got {:?}",
            String::from_utf8_lossy(&reply.frames()[0])
        );
    }
    worker.await.expect("server task")?;
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
