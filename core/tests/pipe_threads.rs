//! Pipe ends driven from two threads, as the threaded shells drive them: no item is lost or
//! reordered, no wake-up is missed, and HWM credits flow back.

use std::sync::mpsc;

use oxmq_core::pipe::{pipe_pair, queue, PipeCommand, PipeItem, Rx, Storage, Tx};
use oxmq_core::Message;

/// Every item a sleeping reader misses is announced by a `false` flush.
#[test]
fn no_wake_up_is_lost_across_threads() {
    const N: usize = 50_000;
    let (mut tx, mut rx) = queue();
    let (wake, woken) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < N {
            match rx.pop() {
                Some(PipeItem::Message(m)) => {
                    assert_eq!(m.frames()[0], got.to_string(), "in order");
                    got += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                // A wake-up follows every sleep that has work after it (stale ones only loop).
                None => woken.recv().expect("writer alive"),
            }
        }
    });
    for i in 0..N {
        tx.push(PipeItem::Message(Message::from(i.to_string().into_bytes())));
        if !tx.flush() {
            wake.send(()).unwrap();
        }
    }
    reader.join().unwrap();
}

/// A writer with HWM 16 and a reader on another thread, commands carried by channels: the
/// writer blocks at HWM and every message arrives once, in order.
#[test]
fn credits_flow_back_across_threads() {
    const N: u64 = 20_000;
    let (mut a, mut b) = pipe_pair(16, 16, false, Storage::Threads);
    let (to_a, from_b) = mpsc::channel::<PipeCommand>();
    let (to_b, from_a) = mpsc::channel::<PipeCommand>();
    let reader = std::thread::spawn(move || {
        let mut got = 0u64;
        while got < N {
            match b.read() {
                Some(PipeItem::Message(m)) => {
                    assert_eq!(m.frames()[0].as_ref(), &got.to_be_bytes()[..]);
                    got += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    let cmd = from_a.recv().expect("writer alive");
                    b.handle_command(cmd);
                }
            }
            while let Some(c) = b.poll_command() {
                let _ = to_a.send(c);
            }
        }
    });
    let mut sent = 0u64;
    while sent < N {
        if a.check_write() {
            a.write(Message::from(sent.to_be_bytes().to_vec()))
                .expect("room was checked");
            sent += 1;
            a.flush();
            while let Some(c) = a.poll_command() {
                to_b.send(c).unwrap();
            }
        } else {
            let cmd = from_b.recv().expect("reader alive");
            a.handle_command(cmd);
        }
        assert!(a.msgs_written() <= N);
    }
    reader.join().unwrap();
}
