//! Terminating a context (`zmq_ctx_term`, `zmq_ctx_shutdown`): calls fail with
//! `Terminated`, waiting ones included, and `term` waits for what was sent to go out.

#[macro_use]
mod common;

on_both_runtimes!(
    term_fails_every_call_waiting_or_not_with_terminated,
    shutdown_ends_waiting_calls_and_leaves_closing_to_term,
    term_does_not_wait_for_an_inproc_bind_that_cannot_come,
    a_socket_made_while_term_starts_is_closed_by_it_or_refused,
);

use std::sync::Arc;

use common::{unique, within};
use oxmq_tokio::{Context, Error, Message, SocketOption, SocketOptionName, SocketType};

fn terminated<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::Terminated)),
        "{what}: {r:?}, not Terminated"
    );
}

async fn term_fails_every_call_waiting_or_not_with_terminated() {
    let ctx = Context::new().unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind(&format!("inproc://{}", unique("term")))
        .await
        .unwrap();
    // No peer: a PUSH's send waits.
    let push = ctx.socket(SocketType::Push).unwrap();
    // `join!` polls the receive and the send first: both are waiting when `term` starts.
    let (recv, send, ()) = within("term", async {
        tokio::join!(pull.recv(), push.send("waits"), ctx.term())
    })
    .await;
    terminated("a waiting recv", recv);
    terminated("a waiting send", send);

    terminated("recv", pull.recv().await);
    terminated("try_recv", pull.try_recv());
    terminated("recv_frame", pull.recv_frame().await);
    let (e, back) = push.try_send("back").unwrap_err();
    assert!(matches!(e, Error::Terminated), "try_send: {e:?}");
    assert_eq!(
        back,
        Message::from("back"),
        "try_send hands the message back"
    );
    terminated("send", push.send("x").await);
    terminated("send_frame", push.send_frame("x", true).await);
    terminated("bind", pull.bind("tcp://127.0.0.1:*").await);
    terminated("connect", push.connect("tcp://127.0.0.1:1").await);
    terminated("unbind", pull.unbind("tcp://127.0.0.1:1").await);
    terminated("disconnect", push.disconnect("tcp://127.0.0.1:1").await);
    terminated("set", pull.set(SocketOption::Linger(0)));
    terminated("get", pull.get(SocketOptionName::Linger));
    terminated("socket", ctx.socket(SocketType::Push));
    // A terminated context's sockets still close, and a second `term` has nothing to wait for.
    within("close", pull.close()).await;
    within("close", push.close()).await;
    within("term again", ctx.term()).await;
}

async fn shutdown_ends_waiting_calls_and_leaves_closing_to_term() {
    let ctx = Context::new().unwrap();
    let pull = Arc::new(ctx.socket(SocketType::Pull).unwrap());
    let push = ctx.socket(SocketType::Push).unwrap();
    let ep = format!("inproc://{}", unique("shutdown"));
    pull.bind(&ep).await.unwrap();
    push.connect(&ep).await.unwrap();
    let waiting = {
        let pull = Arc::clone(&pull);
        tokio::spawn(async move { pull.recv().await })
    };
    // The receive waits (a message it took would fail the test below)…
    tokio::task::yield_now().await;
    ctx.shutdown();
    // … and ends with Terminated, as every later call does.
    terminated("a waiting recv", within("recv", waiting).await.unwrap());
    terminated("send", push.send("late").await);
    // Shutting down closed nothing: `term` does, and waits for it.
    assert_eq!(pull.session_count(), 1, "the inproc link is still there");
    within("term", ctx.term()).await;
    assert_eq!(pull.session_count(), 0, "term closed the link");
}

async fn term_does_not_wait_for_an_inproc_bind_that_cannot_come() {
    let ctx = Context::new().unwrap();
    // LINGER -1 (the default) and a message queued for a name nobody binds: closing alone
    // would wait for a bind forever; once the context terminates, none can come.
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&format!("inproc://{}", unique("never")))
        .await
        .unwrap();
    push.send("queued").await.unwrap();
    within("term", ctx.term()).await;
}

/// `term` is what lets a program end without losing what it sent: after it, the runtime
/// (and with it every task still delivering) may go, and a libzmq peer still gets every
/// message. Without it, dropping the runtime cancels the connection's task midway.
#[test]
fn after_term_a_runtime_may_end_and_a_libzmq_peer_still_gets_everything() {
    const N: usize = 20_000;
    let zctx = zmq::Context::new();
    let zpull = zctx.socket(zmq::PULL).unwrap();
    zpull.set_rcvtimeo(20_000).unwrap();
    zpull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zpull.get_last_endpoint().unwrap().unwrap();
    // The peer reads meanwhile, so no buffer fills up and holds the sender back.
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < N {
            match zpull.recv_string(0) {
                Ok(Ok(s)) => {
                    assert_eq!(s, format!("m{got}"), "in order, none lost");
                    got += 1;
                }
                _ => break,
            }
        }
        got
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = Context::new().unwrap();
        // LINGER -1, the default: wait for delivery.
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&ep).await.unwrap();
        for i in 0..N {
            push.send(format!("m{i}").into_bytes()).await.unwrap();
        }
        drop(push);
        within("term", ctx.term()).await;
    });
    drop(rt);
    assert_eq!(reader.join().unwrap(), N, "messages the peer received");
}

/// `Context::socket` racing `term` on another thread: each socket it makes is either closed
/// by the termination or refused, so `term` never waits for one nobody closes (the sockets
/// are held, not dropped, until `term` has returned).
async fn a_socket_made_while_term_starts_is_closed_by_it_or_refused() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for round in 0..50 {
        let ctx = Context::new().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let maker = {
            let (ctx, count) = (ctx.clone(), Arc::clone(&count));
            std::thread::spawn(move || {
                let mut made = Vec::new();
                loop {
                    match ctx.socket(SocketType::Push) {
                        Ok(s) => made.push(s),
                        Err(Error::Terminated) => return made,
                        Err(e) => panic!("socket: {e:?}"),
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // The termination starts while sockets are being made (after a few, more each round).
        while count.load(Ordering::Relaxed) < round {
            tokio::task::yield_now().await;
        }
        within("term racing socket", ctx.term()).await;
        let made = maker.join().unwrap();
        for s in &made {
            terminated("a socket made before the termination", s.recv().await);
        }
    }
}
