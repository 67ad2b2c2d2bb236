//! Signals to a thread blocked in a call, for the tests of `EINTR` (the C API's and
//! oxmq-mio's interruptible waits).

use std::sync::{mpsc, Once};
use std::time::Duration;

extern "C" fn on_signal(_: libc::c_int) {}

/// Installs a do-nothing handler for SIGUSR1 without SA_RESTART, as Python installs its
/// handlers.
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

/// Runs `call` on a thread of its own and sends that thread SIGUSR1 every 5 ms until the
/// call returns (at most `tries` times, then panics); gives back what it returned. The
/// first signals may land before the call sleeps: the handler runs and the call goes on.
pub fn signalled<T: Send + 'static>(tries: usize, call: impl FnOnce() -> T + Send + 'static) -> T {
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
        // SAFETY: `t` is not joined yet, so `tid` still names the thread (ended or not: a
        // signal to a thread that has ended and is not yet joined does nothing).
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
