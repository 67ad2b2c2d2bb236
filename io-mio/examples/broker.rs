//! zguide's request-reply broker: REQ clients talk to a ROUTER frontend, REP workers to a
//! DEALER backend, and `proxy` joins the two (the QUEUE device).
//! Run with `cargo run --release -p oxmq-mio --example broker`.

use oxmq_core::SocketType;
use oxmq_mio::{proxy, Context, Error};

fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let frontend = ctx.socket(SocketType::Router)?;
    let front = frontend.bind("tcp://127.0.0.1:*")?;
    let backend = ctx.socket(SocketType::Dealer)?;
    let back = backend.bind("tcp://127.0.0.1:*")?;
    let broker = std::thread::spawn(move || proxy(&frontend, &backend, None));
    let mut workers = Vec::new();
    for w in 0..2 {
        let (ctx, back) = (ctx.clone(), back.clone());
        workers.push(std::thread::spawn(move || -> Result<(), Error> {
            let serve = || -> Result<(), Error> {
                let rep = ctx.socket(SocketType::Rep)?;
                rep.connect(&back)?;
                loop {
                    let req = rep.recv()?;
                    let mut answer = req.frames()[0].to_vec();
                    answer.extend_from_slice(format!(" (worker {w})").as_bytes());
                    rep.send(answer)?;
                }
            };
            // The context's end stops a worker wherever it is, even before it got going (a
            // slow thread may start after the clients are done).
            match serve() {
                Err(Error::Terminated) => Ok(()),
                other => other,
            }
        }));
    }
    let client = ctx.socket(SocketType::Req)?;
    client.connect(&front)?;
    for i in 0..6 {
        client.send(format!("request {i}").into_bytes())?;
        let reply = client.recv()?;
        let text = String::from_utf8_lossy(&reply.frames()[0]).into_owned();
        assert!(text.starts_with(&format!("request {i} (worker ")), "{text}");
        println!("{text}");
    }
    drop(client);
    ctx.term();
    assert!(matches!(
        broker.join().expect("broker"),
        Err(Error::Terminated)
    ));
    for w in workers {
        w.join().expect("worker")?;
    }
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
