//! A signal handler running on a thread blocked in a call: an interruptible context's call
//! ends with [`Error::Interrupted`] (the C API's `EINTR`), a default context's waits on.
//!
//! Each test blocks a thread in a call and signals that thread until the call returns: the
//! first signals may land before it sleeps, when the handler runs and the call goes on.

use std::sync::{mpsc, Once};
use std::time::Duration;

use oxmq_core::{Message, SocketType};
use oxmq_mio::{poll, Context, Error, PollItem, Socket, POLLIN};

extern "C" fn on_signal(_: libc::c_int) {}

/// Installs a do-nothing handler for SIGUSR1, without SA_RESTART.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid one to fill in; the handler does nothing,
        // which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
        }
    });
}

/// Runs `call` on a thread of its own and signals that thread every few milliseconds until
/// the call returns (at most `tries` times); gives back what it returned.
fn signalled<T: Send + 'static>(tries: usize, call: impl FnOnce() -> T + Send + 'static) -> T {
    install_handler();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
        done_tx.send(call()).ok();
    });
    let tid = tid_rx.recv().unwrap();
    for _ in 0..tries {
        // SAFETY: the thread is alive: it has not sent its result, after which it ends.
        unsafe { libc::pthread_kill(tid, libc::SIGUSR1) };
        match done_rx.recv_timeout(Duration::from_millis(5)) {
            Ok(r) => {
                t.join().unwrap();
                return r;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("the blocked thread failed: {e}"),
        }
    }
    panic!("{tries} signals did not end the call");
}

fn interruptible() -> Context {
    let ctx = Context::new().unwrap();
    ctx.set_interruptible(true);
    ctx
}

#[test]
fn an_interruptible_recv_ends_with_interrupted_and_the_socket_receives_after() {
    let ctx = interruptible();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").unwrap();
    let (pull, r) = signalled(2000, move || {
        let r = pull.recv();
        (pull, r)
    });
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&endpoint).unwrap();
    push.send("after").unwrap();
    assert_eq!(pull.recv().unwrap(), Message::from("after"));
}

#[test]
fn an_interruptible_send_hands_the_message_back() {
    let ctx = interruptible();
    let push = ctx.socket(SocketType::Push).unwrap();
    let (push, r) = signalled(2000, move || {
        let r = push.try_send_frame(bytes::Bytes::from_static(b"kept"), false, false);
        (push, r)
    });
    match r {
        Err((Error::Interrupted, back)) => assert_eq!(&back[..], b"kept"),
        other => panic!("{other:?}"),
    }
    drop(push);
}

#[test]
fn an_interruptible_poll_ends_with_interrupted() {
    let ctx = interruptible();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let (pull, r) = signalled(2000, move || {
        let r = poll(&mut [PollItem::new(&pull, POLLIN)], None);
        (pull, r)
    });
    assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
    drop(pull);
}

#[test]
fn a_default_context_waits_through_signals() {
    let ctx = Context::new().unwrap();
    let pull: Socket = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    // Signalled for as long as the wait lasts (a quarter of a second), it still times out.
    let r = signalled(usize::MAX, move || {
        pull.recv_timeout(Duration::from_millis(250))
    });
    assert!(matches!(r, Err(Error::WouldBlock)), "{r:?}");
}
