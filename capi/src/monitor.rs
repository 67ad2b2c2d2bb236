//! `zmq_socket_monitor`: events published on a PAIR socket bound to an inproc endpoint, two
//! frames each as in libzmq 4.x: `[event: u16][value: u32]` in host byte order, then the
//! endpoint.
//!
//! libzmq's socket writes its events to the PAIR itself. Here a relay thread reads the
//! socket's [`Monitor`] and sends what the mask selects; it ends after MONITOR_STOPPED, when
//! monitoring is stopped, or when the context terminates.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};
use oxmq_core::{Message, SocketOption, SocketType};
use oxmq_mio::{Error, Monitor, Socket};

use crate::error::{guard, to_errno};
use crate::socket::{c_str, socket};

/// A running relay; stopping it sends MONITOR_STOPPED (if selected) and closes the PAIR.
pub(crate) struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Stops the relay and waits for it.
    fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The two frames libzmq sends for `ev`.
fn frames(kind: MonitorEventKind, value: u64, endpoint: &str) -> Message {
    let mut head = Vec::with_capacity(6);
    head.extend_from_slice(&(kind.code() as u16).to_ne_bytes());
    head.extend_from_slice(&(value as u32).to_ne_bytes());
    Message::from_frames([
        Bytes::from(head),
        Bytes::copy_from_slice(endpoint.as_bytes()),
    ])
}

/// Sends `msg` on `pair`, waiting for a peer while the relay is not stopped.
fn deliver(pair: &Socket, msg: Message, stop: &AtomicBool) -> bool {
    let mut msg = msg;
    loop {
        match pair.try_send(msg) {
            Ok(()) => return true,
            Err((Error::WouldBlock, back)) => {
                if stop.load(Ordering::Acquire) {
                    return false;
                }
                msg = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return false,
        }
    }
}

fn relay(monitor: Monitor, pair: Socket, mask: u32, stop: Arc<AtomicBool>) {
    loop {
        if stop.load(Ordering::Acquire) {
            // Events already kept go out first, then MONITOR_STOPPED.
            while let Some(ev) = monitor.recv(Duration::ZERO) {
                if !forward(&pair, &ev, mask, &stop) {
                    return;
                }
            }
            let end = MonitorEventKind::MonitorStopped;
            if mask & end.code() != 0 {
                let _ = pair.try_send(frames(end, 0, ""));
            }
            return;
        }
        if let Some(ev) = monitor.recv(Duration::from_millis(20)) {
            if !forward(&pair, &ev, mask, &stop) || ev.kind == MonitorEventKind::MonitorStopped {
                return;
            }
        }
    }
}

fn forward(pair: &Socket, ev: &MonitorEvent, mask: u32, stop: &AtomicBool) -> bool {
    if mask & ev.kind.code() == 0 {
        return true;
    }
    deliver(pair, frames(ev.kind, ev.value, &ev.endpoint), stop)
}

/// `zmq_socket_monitor`: publishes `s_`'s events selected by `events_` on a PAIR bound to
/// `addr_` (inproc only); a null `addr_` stops monitoring.
#[no_mangle]
pub extern "C" fn zmq_socket_monitor(
    s_: *mut c_void,
    addr_: *const c_char,
    events_: c_int,
) -> c_int {
    guard(-1, || {
        let s = socket(s_)?;
        if let Some(old) = s.monitor.borrow_mut().take() {
            old.stop();
        }
        if addr_.is_null() {
            return Ok(0);
        }
        let addr = c_str(addr_)?;
        if !addr.starts_with("inproc://") {
            return Err(libc::EPROTONOSUPPORT);
        }
        let pair = s.ctx.socket(SocketType::Pair).map_err(to_errno)?;
        pair.set(SocketOption::Linger(0)).map_err(to_errno)?;
        pair.bind(addr).map_err(to_errno)?;
        let monitor = s.sock.monitor();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let mask = events_ as u32;
        let thread = std::thread::Builder::new()
            .name("oxmq-monitor".into())
            .spawn(move || relay(monitor, pair, mask, flag))
            .map_err(|_| crate::error::EMTHREAD)?;
        *s.monitor.borrow_mut() = Some(Relay {
            stop,
            thread: Some(thread),
        });
        Ok(0)
    })
}
