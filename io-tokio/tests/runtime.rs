//! How the front-end lives with Tokio: what is `Send`, where a context may be made, sockets
//! shared between tasks, and sockets that outlive their handles or their runtime.

mod common;

use bytes::Bytes;
use common::{join, sock, text, within};
use oxmq_tokio::{Context, Error, Message, SocketOption, SocketType};

fn assert_send<T: Send>(_: &T) {}
fn assert_sync<T: Sync>(_: &T) {}

#[tokio::test]
async fn sockets_and_their_futures_can_move_between_threads() {
    let ctx = Context::new().unwrap();
    let s = sock(&ctx, SocketType::Dealer);
    assert_send(&ctx);
    assert_send(&s);
    assert_sync(&s);
    assert_send(&s.send("x"));
    assert_send(&s.recv());
    assert_send(&s.send_frame("x", true));
    assert_send(&s.recv_frame());
    assert_send(&s.monitor());
    assert_send(&s.close());
}

#[test]
fn a_context_outside_a_runtime_is_refused_and_one_can_name_its_runtime() {
    assert!(matches!(Context::new(), Err(Error::NoRuntime)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Made outside the runtime, for it: binds and connects work from any thread.
    let ctx = Context::with_runtime(rt.handle().clone());
    let pull = sock(&ctx, SocketType::Pull);
    let push = sock(&ctx, SocketType::Push);
    rt.block_on(async {
        join(&pull, &push, "tcp://127.0.0.1:*").await;
        push.send("over there").await.unwrap();
        assert_eq!(
            text(&within("recv", pull.recv()).await.unwrap()),
            ["over there"]
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_receives_while_another_sends_on_the_same_socket() {
    let ctx = Context::new().unwrap();
    let a = std::sync::Arc::new(sock(&ctx, SocketType::Dealer));
    let b = sock(&ctx, SocketType::Dealer);
    join(&b, &a, "tcp://127.0.0.1:*").await;
    let reader = {
        let a = std::sync::Arc::clone(&a);
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..100 {
                got.push(text(&a.recv().await.unwrap())[0].clone());
            }
            got
        })
    };
    // b echoes what a sends; a's reader waits in recv all along.
    let echo = async {
        for _ in 0..100 {
            let m = b.recv().await.unwrap();
            b.send(m).await.unwrap();
        }
    };
    let send = async {
        for i in 0..100 {
            a.send(Bytes::from(format!("e{i}"))).await.unwrap();
        }
    };
    within("echo", async { tokio::join!(echo, send) }).await;
    let got = within("reader", reader).await.unwrap();
    let want: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_dropped_socket_delivers_its_queue_in_the_background() {
    let ctx = Context::new().unwrap();
    let dir = std::env::temp_dir();
    let ep = format!(
        "ipc://{}/oxmq-tokio-drop-{}.ipc",
        dir.display(),
        std::process::id()
    );
    let push = ctx.socket(SocketType::Push).unwrap(); // LINGER -1
    push.set(SocketOption::ReconnectIvl(10)).unwrap();
    push.connect(&ep).await.unwrap();
    for i in 0..3 {
        push.send(Bytes::from(format!("after drop {i}")))
            .await
            .unwrap();
    }
    drop(push);
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).await.unwrap();
    for i in 0..3 {
        assert_eq!(
            text(&within("lingered", pull.recv()).await.unwrap()),
            [format!("after drop {i}")]
        );
    }
}

#[test]
fn sockets_outliving_their_runtime_drop_quietly() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (push, pull) = rt.block_on(async {
        let ctx = Context::new().unwrap();
        let push = ctx.socket(SocketType::Push).unwrap(); // LINGER -1, a queue to deliver
        let pull = sock(&ctx, SocketType::Pull);
        join(&pull, &push, "tcp://127.0.0.1:*").await;
        push.send(Message::from("queued")).await.unwrap();
        (push, pull)
    });
    drop(rt);
    // Their tasks are gone with the runtime: closing them does what it can, without panic.
    drop(push);
    drop(pull);
}

#[test]
fn sockets_dropped_while_their_runtime_shuts_down_drop_quietly() {
    for flavor in ["current-thread", "multi-thread"] {
        let rt = match flavor {
            "current-thread" => tokio::runtime::Builder::new_current_thread(),
            _ => tokio::runtime::Builder::new_multi_thread(),
        }
        .enable_all()
        .build()
        .unwrap();
        rt.block_on(async {
            let ctx = Context::new().unwrap();
            // A socket with a queue to deliver and a LINGER timer to start when it closes,
            // owned by a task the shutdown drops.
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set(SocketOption::Linger(100)).unwrap();
            push.connect("tcp://127.0.0.1:1").await.unwrap();
            push.send("queued").await.unwrap();
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.bind("inproc://shutdown").await.unwrap();
            tokio::spawn(async move {
                let _push = push;
                let _ = pull.recv().await;
            });
            tokio::task::yield_now().await;
        });
        drop(rt);
    }
}
