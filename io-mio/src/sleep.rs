//! Sleeps that a signal handler ends, for callers that ask for `EINTR` as libzmq gives it.
//!
//! libzmq's blocking calls wait in `poll(2)`, so a signal handler that runs on the waiting
//! thread ends the wait with `EINTR`, and the C caller (pyzmq, say) runs its own handler:
//! Ctrl-C raises `KeyboardInterrupt` inside a `recv`. A wait on a condition variable
//! cannot end that way: the standard library retries its futex wait on `EINTR`.
//!
//! So a caller that wants it sleeps in `epoll_wait` on its thread's own eventfd (mio's
//! [`Poll`] with one [`Waker`]). The kernel ends `epoll_wait` with `EINTR` when a handler
//! runs, whatever `SA_RESTART` says (see signal(7)). Whoever would notify the condition
//! variable also wakes each such sleeper it finds registered, under the same lock the
//! sleeper registered under, so no wake-up is lost between registering and sleeping: the
//! eventfd keeps the count until the sleeper's `epoll_wait` sees it.
//!
//! A wake-up that comes after its sleeper already returned stays in the eventfd and ends
//! that thread's next sleep at once: a spurious wake-up, which every caller already
//! handles by looking again.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};

/// What ended a sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// A wake-up, the timeout, or nothing in particular: look again.
    Look,
    /// A signal handler ran on this thread.
    Interrupted,
}

/// The sleeping side: one per thread, made the first time the thread sleeps this way.
struct Sleeper {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
}

thread_local! {
    static SLEEPER: RefCell<Option<Sleeper>> = const { RefCell::new(None) };
}

impl Sleeper {
    fn new() -> io::Result<Sleeper> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), Token(0))?);
        Ok(Sleeper {
            poll,
            events: Events::with_capacity(1),
            waker,
        })
    }
}

/// This thread's waker, for a waker to find (see the module's docs); `None` if the thread
/// cannot have one (no file descriptors left), when the caller falls back to a wait a
/// signal does not end.
pub(crate) fn alarm() -> Option<Arc<Waker>> {
    SLEEPER.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = Sleeper::new().ok();
        }
        s.as_ref().map(|s| Arc::clone(&s.waker))
    })
}

/// Sleeps until this thread's waker is woken, `timeout` passes (`None`: no timeout) or a
/// signal handler runs. Call [`alarm`] first, and register what it gave where wakers look.
pub(crate) fn sleep(timeout: Option<Duration>) -> Woke {
    SLEEPER.with(|s| {
        let mut s = s.borrow_mut();
        let Some(s) = s.as_mut() else {
            return Woke::Look;
        };
        match s.poll.poll(&mut s.events, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Woke::Interrupted,
            // Woken, timed out, or a failure that the next look and sleep meet again.
            _ => Woke::Look,
        }
    })
}

/// Wakes the sleepers `alarms` registered.
pub(crate) fn wake_all(alarms: &[Arc<Waker>]) {
    for a in alarms {
        // A full eventfd (which mio resets) still wakes its sleeper.
        let _ = a.wake();
    }
}

/// Removes `alarm` from `alarms` (once; a thread sleeps once at a time).
pub(crate) fn unregister(alarms: &mut Vec<Arc<Waker>>, alarm: &Arc<Waker>) {
    if let Some(i) = alarms.iter().position(|a| Arc::ptr_eq(a, alarm)) {
        alarms.swap_remove(i);
    }
}
