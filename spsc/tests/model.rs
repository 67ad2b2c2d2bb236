//! The queue against a plain model, one thread: any sequence of writes, flushes, reads and
//! looks gives what a `VecDeque` with a publication mark and a sleeper flag gives.
#![cfg(not(loom))]

use std::collections::VecDeque;

use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Op {
    Write,
    Flush,
    Read,
    TryRead,
    CheckRead,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Write),
        2 => Just(Op::Flush),
        3 => Just(Op::Read),
        1 => Just(Op::TryRead),
        1 => Just(Op::CheckRead),
    ]
}

/// What the queue should do: items below `published` are visible; the reader sleeps from a
/// read that finds nothing until the flush that reports it.
struct Model {
    items: VecDeque<u32>,
    published: usize,
    asleep: bool,
}

fn check<const N: usize>(ops: &[Op]) {
    let (mut tx, mut rx) = oxmq_spsc::channel::<u32, N>();
    let mut model = Model {
        items: VecDeque::new(),
        published: 0,
        asleep: true,
    };
    let mut next = 0;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Write => {
                tx.write(next);
                model.items.push_back(next);
                next += 1;
            }
            Op::Flush => {
                let fresh = model.published < model.items.len();
                let want = fresh && model.asleep;
                if fresh {
                    model.asleep = false;
                    model.published = model.items.len();
                }
                assert_eq!(tx.flush(), want, "flush at op {i}");
            }
            Op::Read | Op::TryRead => {
                let want = (model.published > 0).then(|| {
                    model.published -= 1;
                    model.items.pop_front().unwrap()
                });
                if want.is_none() && matches!(op, Op::Read) {
                    model.asleep = true;
                }
                let got = match op {
                    Op::Read => rx.read(),
                    _ => rx.try_read(),
                };
                assert_eq!(got, want, "{op:?} at op {i}");
            }
            Op::CheckRead => {
                let want = model.published > 0;
                if !want {
                    model.asleep = true;
                }
                assert_eq!(rx.check_read(), want, "check_read at op {i}");
            }
        }
    }
}

proptest! {
    // Miri checks a few sequences for undefined behaviour; the model check is the native run.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 512 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn behaves_as_the_model(ops in proptest::collection::vec(op(), 0..300)) {
        check::<1>(&ops);
        check::<3>(&ops);
        check::<16>(&ops);
    }
}
