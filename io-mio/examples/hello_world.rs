//! zguide's hello world: a REP server answers "World" to each "Hello" from a REQ client.
//! Run with `cargo run --release -p oxmq-mio --example hello_world`.

use oxmq_core::{Message, SocketType};
use oxmq_mio::{Context, Error};

fn main() -> Result<(), Error> {
    let ctx = Context::new()?;
    let server = ctx.socket(SocketType::Rep)?;
    let endpoint = server.bind("tcp://127.0.0.1:*")?;
    println!("server bound to {endpoint}");
    let worker = std::thread::spawn(move || -> Result<(), Error> {
        for _ in 0..10 {
            let request = server.recv()?;
            println!(
                "server received {:?}",
                String::from_utf8_lossy(&request.frames()[0])
            );
            server.send("World")?;
        }
        Ok(())
    });
    let client = ctx.socket(SocketType::Req)?;
    client.connect(&endpoint)?;
    for n in 0..10 {
        client.send("Hello")?;
        let reply = client.recv()?;
        assert_eq!(reply, Message::from("World"));
        println!(
            "client request {n}: got {:?}",
            String::from_utf8_lossy(&reply.frames()[0])
        );
    }
    worker.join().expect("server thread")?;
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
