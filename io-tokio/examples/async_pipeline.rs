//! zguide's parallel pipeline, async: a ventilator PUSHes tasks to three worker tasks, which
//! PUSH results to a sink — over inproc. Run with
//! `cargo run --release -p oxmq-tokio --example async_pipeline`.

use oxmq_tokio::{Context, Error, Message, SocketType};

const TASKS: u32 = 100;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let sink = ctx.socket(SocketType::Pull)?;
    sink.bind("inproc://sink").await?;
    let ventilator = ctx.socket(SocketType::Push)?;
    ventilator.bind("inproc://tasks").await?;
    let mut workers = Vec::new();
    for _ in 0..3 {
        let ctx = ctx.clone();
        workers.push(tokio::spawn(async move {
            let tasks = ctx.socket(SocketType::Pull)?;
            tasks.connect("inproc://tasks").await?;
            let results = ctx.socket(SocketType::Push)?;
            results.connect("inproc://sink").await?;
            // Connected to the tasks: say so, so no task or end signal is dealt out before
            // every worker takes its turn.
            results.send(Message::single(Vec::new())).await?;
            let mut done = 0u32;
            loop {
                let task = tasks.recv().await?;
                let body = &task.frames()[0];
                if body.is_empty() {
                    return Ok::<_, Error>(done); // the end-of-work signal
                }
                let n = u32::from_be_bytes(body[..].try_into().expect("4-byte task"));
                results
                    .send(Message::single((n * n).to_be_bytes().to_vec()))
                    .await?;
                done += 1;
            }
        }));
    }
    for _ in 0..3 {
        let ready = sink.recv().await?;
        assert!(ready.frames()[0].is_empty(), "a worker's ready signal");
    }
    for n in 0..TASKS {
        ventilator
            .send(Message::single(n.to_be_bytes().to_vec()))
            .await?;
    }
    let mut sum = 0u64;
    for _ in 0..TASKS {
        let r = sink.recv().await?;
        sum += u64::from(u32::from_be_bytes(
            r.frames()[0][..].try_into().expect("4 bytes"),
        ));
    }
    for _ in 0..3 {
        ventilator.send(Message::single(Vec::new())).await?;
    }
    let mut per_worker = Vec::new();
    for w in workers {
        per_worker.push(w.await.expect("worker task")?);
    }
    let expected: u64 = (0..u64::from(TASKS)).map(|n| n * n).sum();
    assert_eq!(sum, expected);
    assert_eq!(per_worker.iter().sum::<u32>(), TASKS);
    println!("sum of squares {sum}; tasks per worker {per_worker:?}");
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
