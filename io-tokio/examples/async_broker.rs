//! zguide's request-reply broker, async: REQ clients talk to a ROUTER frontend, REP worker
//! tasks to a DEALER backend, and `proxy` joins the two (the QUEUE device). Run with
//! `cargo run --release -p oxmq-tokio --example async_broker`.

use oxmq_tokio::{proxy, Context, Error, SocketType};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let frontend = ctx.socket(SocketType::Router)?;
    let front = frontend.bind("tcp://127.0.0.1:*").await?;
    let backend = ctx.socket(SocketType::Dealer)?;
    let back = backend.bind("tcp://127.0.0.1:*").await?;
    let broker = tokio::spawn(async move { proxy(&frontend, &backend, None).await });
    let mut workers = Vec::new();
    for w in 0..2 {
        let (ctx, back) = (ctx.clone(), back.clone());
        workers.push(tokio::spawn(async move {
            let rep = ctx.socket(SocketType::Rep)?;
            rep.connect(&back).await?;
            loop {
                let req = rep.recv().await?;
                let mut answer = req.frames()[0].to_vec();
                answer.extend_from_slice(format!(" (worker {w})").as_bytes());
                rep.send(answer).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        }));
    }
    let client = ctx.socket(SocketType::Req)?;
    client.connect(&front).await?;
    for i in 0..6 {
        client.send(format!("request {i}").into_bytes()).await?;
        let reply = client.recv().await?;
        let text = String::from_utf8_lossy(&reply.frames()[0]).into_owned();
        assert!(text.starts_with(&format!("request {i} (worker ")), "{text}");
        println!("{text}");
    }
    // Tasks end by being dropped: the broker and the workers stop where they wait.
    broker.abort();
    for w in workers {
        w.abort();
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
