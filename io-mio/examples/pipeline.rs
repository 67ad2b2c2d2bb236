//! zguide's parallel pipeline: a ventilator PUSHes tasks to workers, which PUSH results to a
//! sink — here over inproc, with three worker threads.
//! Run with `cargo run --release -p oxmq-mio --example pipeline`.

use oxmq_core::{Message, SocketType};
use oxmq_mio::{Context, Error};

const TASKS: u32 = 100;

fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let sink = ctx.socket(SocketType::Pull)?;
    sink.bind("inproc://sink")?;
    let ventilator = ctx.socket(SocketType::Push)?;
    ventilator.bind("inproc://tasks")?;
    let mut workers = Vec::new();
    for _ in 0..3 {
        let ctx = ctx.clone();
        workers.push(std::thread::spawn(move || -> Result<u32, Error> {
            let tasks = ctx.socket(SocketType::Pull)?;
            tasks.connect("inproc://tasks")?;
            let results = ctx.socket(SocketType::Push)?;
            results.connect("inproc://sink")?;
            // Connected to the tasks: say so, so no task or end signal is dealt out before
            // every worker takes its turn.
            results.send(Message::single(Vec::new()))?;
            let mut done = 0;
            loop {
                let task = tasks.recv()?;
                let body = &task.frames()[0];
                if body.is_empty() {
                    return Ok(done); // the end-of-work signal
                }
                let n = u32::from_be_bytes(body[..].try_into().expect("4-byte task"));
                results.send(Message::single((n * n).to_be_bytes().to_vec()))?;
                done += 1;
            }
        }));
    }
    for _ in 0..3 {
        assert!(
            sink.recv()?.frames()[0].is_empty(),
            "a worker's ready signal"
        );
    }
    for n in 0..TASKS {
        ventilator.send(Message::single(n.to_be_bytes().to_vec()))?;
    }
    let mut sum = 0u64;
    for _ in 0..TASKS {
        let r = sink.recv()?;
        sum += u64::from(u32::from_be_bytes(
            r.frames()[0][..].try_into().expect("4 bytes"),
        ));
    }
    for _ in 0..3 {
        ventilator.send(Message::single(Vec::new()))?;
    }
    let per_worker: Vec<u32> = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread"))
        .collect::<Result<_, _>>()?;
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
