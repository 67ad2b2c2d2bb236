//! A bug injected in the simulator's own receive path (never in the core) must be caught: a
//! probe handed up twice is a safety failure, a probe lost on the way up a liveness failure,
//! in every workload.

use oxmq_sim::profile::Pattern;
use oxmq_sim::{run_seed, FailureKind, Mutation, RunOptions};

fn run(seed: u64, pattern: Pattern, mutation: Mutation) -> oxmq_sim::Report {
    run_seed(&RunOptions {
        pattern: Some(pattern),
        mutation,
        ..RunOptions::new(seed)
    })
}

#[test]
fn a_duplicated_message_is_a_safety_failure_in_every_pattern() {
    for pattern in Pattern::ALL {
        for seed in 0..3 {
            let r = run(seed, pattern, Mutation::DuplicateFirstProbe);
            let f = r
                .failure
                .as_ref()
                .unwrap_or_else(|| panic!("not caught: {r}"));
            assert_eq!(f.kind, FailureKind::Safety, "{r}");
        }
    }
}

#[test]
fn a_lost_message_is_a_liveness_failure_in_every_pattern() {
    for pattern in Pattern::ALL {
        for seed in 0..3 {
            let r = run(seed, pattern, Mutation::DropFirstProbe);
            let f = r
                .failure
                .as_ref()
                .unwrap_or_else(|| panic!("not caught: {r}"));
            assert_eq!(f.kind, FailureKind::Liveness, "{r}");
            assert!(r.replay_command().contains(&format!("--seed {seed}")));
        }
    }
}

#[test]
fn connections_that_never_re_form_are_a_liveness_failure() {
    for pattern in Pattern::ALL {
        let r = run(1, pattern, Mutation::NeverReconnect);
        let f = r
            .failure
            .as_ref()
            .unwrap_or_else(|| panic!("not caught: {r}"));
        assert_eq!(f.kind, FailureKind::Liveness, "{r}");
    }
    // Where the connects predate the healing, the re-forming check itself fires.
    let r = run(1, Pattern::Pipeline, Mutation::NeverReconnect);
    assert!(r.failure.unwrap().what.contains("has no connection"));
}

#[test]
fn a_panic_is_reported_as_a_crash_with_the_trace_tail() {
    let r = run(3, Pattern::Pair, Mutation::PanicOnFirstProbe);
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("not caught: {r}"));
    assert_eq!(f.kind, FailureKind::Crash, "{r}");
    assert!(f.what.contains("injected panic"), "{r}");
    assert_eq!(r.tail.len(), oxmq_sim::trace::TAIL);
    let shown = r.to_string();
    assert!(
        shown.contains("FAILED (crash)") && shown.contains("--seed 3"),
        "{shown}"
    );
}

#[test]
fn without_the_injected_bug_the_same_runs_pass() {
    for pattern in Pattern::ALL {
        for seed in 0..3 {
            let r = run(seed, pattern, Mutation::None);
            assert!(r.failure.is_none(), "{r}");
        }
    }
}

/// The first seed in `0..seeds` on which `mutation` is caught, and how.
fn first_catch(pattern: Pattern, mutation: Mutation, seeds: u64) -> Option<(u64, FailureKind)> {
    (0..seeds).find_map(|seed| {
        let r = run(seed, pattern, mutation);
        r.failure.map(|f| (seed, f.kind))
    })
}

/// A bug in the pipe command protocol between a socket and its sessions (inside the core,
/// not the simulator) is caught by a short sweep of every workload: lost reports of reads
/// leave writers blocked at their HWM, lost wake-ups leave messages unread in their pipes.
#[test]
fn a_broken_pipe_command_protocol_is_caught_in_every_pattern() {
    for mutation in [Mutation::LoseReadReports, Mutation::LoseReadWakeups] {
        for pattern in Pattern::ALL {
            let caught = first_catch(pattern, mutation, 40);
            let Some((seed, kind)) = caught else {
                panic!("{mutation:?} in {pattern:?} survived 40 seeds");
            };
            eprintln!("{mutation:?} in {pattern:?}: caught at seed {seed} ({kind})");
        }
    }
}

/// The two bugs the split-core issue names: a lost term ack (a session's answer to the order
/// to linger) leaves a close that never finishes, and a read count one short in every
/// activation leaves a writer that believes its pipe fuller than it is, until it stalls at
/// its HWM. Each is caught by a short sweep.
#[test]
fn a_lost_term_ack_and_a_wrong_read_count_are_caught() {
    for mutation in [Mutation::LoseTermAcks, Mutation::ShortReadCounts] {
        let caught = Pattern::ALL
            .iter()
            .find_map(|&pattern| first_catch(pattern, mutation, 60).map(|c| (pattern, c)));
        let Some((pattern, (seed, kind))) = caught else {
            panic!("{mutation:?} survived 60 seeds of every workload");
        };
        eprintln!("{mutation:?}: caught in {pattern:?} at seed {seed} ({kind})");
    }
}
