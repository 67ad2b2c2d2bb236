//! A bug injected in the simulator's own receive path (never in the core) must be caught: a
//! probe handed up twice is a safety failure, a probe lost on the way up a liveness failure,
//! in every workload. Each of the newer workloads' oracles is shown to fire the same way, on
//! a bug the driver or an application plays (a driver ignoring `wants_input`, a lost live
//! HWM change, lost inproc wake-ups, inflated inproc HWMs, a duplicated or lost
//! PROBE_ROUTER probe, a conflate that keeps an older message, a proxy that widens or never
//! cancels subscriptions), or one the core plays through its simulator hooks.

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

/// A driver that reads a connection though `wants_input` says its socket's queue is full:
/// back-pressure never reaches the network, and a socket whose application stopped
/// receiving reads more than its RCVHWM allows. (Tried where senders stream: a REQ or a
/// DEALER has only a few requests out, so its server never has much to read.)
#[test]
fn a_driver_ignoring_wants_input_is_caught_by_the_stalled_read_bound() {
    let mut caught = 0;
    for pattern in [Pattern::Pipeline, Pattern::PubSub, Pattern::Pair] {
        let found = (0..200).find_map(|seed| {
            let profile = oxmq_sim::Profile::draw(seed);
            if !profile.features.stalls {
                return None;
            }
            let clean = run(seed, pattern, Mutation::None);
            assert!(clean.failure.is_none(), "{clean}");
            let r = run(seed, pattern, Mutation::IgnoreWantsInput);
            r.failure.map(|f| (seed, f))
        });
        if let Some((seed, f)) = found {
            eprintln!("{pattern:?}: caught at seed {seed}: {}", f.what);
            assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
            assert!(f.what.contains("back-pressure"), "seed {seed}: {f:?}");
            caught += 1;
        }
    }
    assert_eq!(caught, 3, "not caught in every pattern tried");
}

/// A live HWM change that never reaches the socket's pipes: once they have drained to the
/// HWM the application set, they must stay within it, and the HWM oracle sees them fill to
/// the old one.
#[test]
fn a_lost_live_hwm_change_is_caught_by_the_hwm_bound() {
    let found = (0..300).find_map(|seed| {
        if !oxmq_sim::Profile::draw(seed).features.live_hwm {
            return None;
        }
        let r = run(seed, Pattern::Pipeline, Mutation::HwmChangeLost);
        r.failure.map(|f| (seed, f))
    });
    let (seed, f) = found.expect("a lost HWM change survived 300 seeds");
    eprintln!("caught at seed {seed}: {}", f.what);
    assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
    assert!(f.what.contains("over SNDHWM"), "seed {seed}: {f:?}");
}

/// Wake-ups lost between the two sockets of an inproc connection leave messages unread in
/// the pipe they share: caught in every workload that puts peers on one host. (Not PAIR: it
/// reads its one pipe whenever asked, and its applications ask on every tick.)
#[test]
fn lost_inproc_wake_ups_are_caught_in_every_pattern() {
    for pattern in Pattern::ALL.into_iter().filter(|p| *p != Pattern::Pair) {
        let found = (0..200).find_map(|seed| {
            if !oxmq_sim::Profile::draw(seed).features.inproc {
                return None;
            }
            let r = run(seed, pattern, Mutation::LoseInprocWakeups);
            r.failure.map(|f| (seed, f))
        });
        let Some((seed, f)) = found else {
            panic!("lost inproc wake-ups in {pattern:?} survived 200 seeds");
        };
        eprintln!(
            "{pattern:?}: caught at seed {seed} ({}): {}",
            f.kind, f.what
        );
    }
}

/// A PROBE_ROUTER probe handed up twice: a connection carries one probe, so the ROUTER
/// oracle calls the second a safety failure.
#[test]
fn a_duplicated_router_probe_is_a_safety_failure() {
    let found = (0..100).find_map(|seed| {
        if !oxmq_sim::Profile::draw(seed).features.probe_router {
            return None;
        }
        let r = run(seed, Pattern::DealerRouter, Mutation::DuplicateRouterProbe);
        Some((seed, r))
    });
    let (seed, r) = found.expect("no seed draws PROBE_ROUTER");
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("seed {seed} not caught: {r}"));
    assert_eq!(f.kind, FailureKind::Safety, "{r}");
    assert!(f.what.contains("PROBE_ROUTER probe"), "{r}");
}

/// A PROBE_ROUTER probe lost on the way up: where each connection's pipe starts with its
/// probe (IMMEDIATE), the ROUTER then sees that connection's requests without one.
#[test]
fn a_lost_router_probe_is_caught_where_each_connection_carries_one() {
    let found = (0..300).find_map(|seed| {
        let p = oxmq_sim::Profile::draw(seed);
        if !p.features.probe_router || !p.sock.base.immediate {
            return None;
        }
        let r = run(seed, Pattern::DealerRouter, Mutation::DropRouterProbe);
        r.failure.map(|f| (seed, f))
    });
    let (seed, f) = found.expect("a lost probe survived 300 seeds");
    assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
    assert!(
        f.what.contains("before that connection's probe"),
        "seed {seed}: {f:?}"
    );
}

/// A conflating socket that hands up an older message and keeps the newest back: each
/// conflating receiver must end with its senders' newest messages, so this is caught in
/// every workload with conflating receivers (a SUB may instead be caught handing up, late,
/// a topic it has unsubscribed from since).
#[test]
fn a_conflate_keeping_an_older_message_is_caught() {
    let mut by_newest = 0;
    for pattern in [Pattern::Pipeline, Pattern::PubSub, Pattern::DealerRouter] {
        let found = (0..200).find_map(|seed| {
            if !oxmq_sim::Profile::draw(seed).features.conflate {
                return None;
            }
            let clean = run(seed, pattern, Mutation::None);
            assert!(clean.failure.is_none(), "{clean}");
            let r = run(seed, pattern, Mutation::ConflateKeepsOlder);
            r.failure.map(|f| (seed, f))
        });
        let (seed, f) = found.unwrap_or_else(|| panic!("{pattern:?}: survived 200 seeds"));
        eprintln!(
            "{pattern:?}: caught at seed {seed} ({}): {}",
            f.kind, f.what
        );
        if f.what.contains("the newest") {
            assert_eq!(f.kind, FailureKind::Liveness, "seed {seed}: {f:?}");
            by_newest += 1;
        }
    }
    assert!(
        by_newest >= 2,
        "the newest-message oracle caught it only {by_newest} times"
    );
}

/// A proxy that widens a subscription upstream (subscribes to everything in place of the
/// first topic it relays): its XSUB then receives topics no subscription covers.
#[test]
fn a_proxy_forwarding_an_unsubscribed_topic_upstream_is_caught() {
    let mut caught = 0;
    for seed in 0..100 {
        if !oxmq_sim::Profile::draw(seed).features.proxy {
            continue;
        }
        let clean = run(seed, Pattern::PubSub, Mutation::None);
        assert!(clean.failure.is_none(), "{clean}");
        let r = run(seed, Pattern::PubSub, Mutation::ProxyWidensSubscriptions);
        if let Some(f) = r.failure {
            assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
            assert!(f.what.contains("proxy XSUB"), "seed {seed}: {f:?}");
            caught += 1;
        }
    }
    assert!(caught >= 3, "caught on {caught} seeds only");
}

/// A proxy that never relays a cancel upstream: once the network has settled, its XSUB
/// keeps receiving a topic whose last subscription was cancelled long before.
#[test]
fn a_proxy_keeping_cancelled_subscriptions_upstream_is_caught() {
    let found = (0..400).find_map(|seed| {
        if !oxmq_sim::Profile::draw(seed).features.proxy {
            return None;
        }
        let r = run(seed, Pattern::PubSub, Mutation::ProxyDropsCancels);
        r.failure.map(|f| (seed, f))
    });
    let (seed, f) = found.expect("a proxy dropping cancels survived 400 seeds");
    eprintln!("caught at seed {seed}: {}", f.what);
    assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
    assert!(f.what.contains("cancelled upstream"), "seed {seed}: {f:?}");
}

/// An inproc join that hands the connecting socket inflated HWMs for its peer: the pipe
/// they share then takes more than the writer's SNDHWM plus the reader's RCVHWM, and the
/// inproc HWM oracle sees it as soon as a reader falls behind.
#[test]
fn an_inproc_pipe_over_its_hwms_is_caught() {
    let found = (0..300).find_map(|seed| {
        if !oxmq_sim::Profile::draw(seed).features.inproc {
            return None;
        }
        let r = run(seed, Pattern::Pipeline, Mutation::InprocHwmInflated);
        r.failure.map(|f| (seed, f))
    });
    let (seed, f) = found.expect("inflated inproc HWMs survived 300 seeds");
    eprintln!("caught at seed {seed}: {}", f.what);
    assert_eq!(f.kind, FailureKind::Safety, "seed {seed}: {f:?}");
    assert!(f.what.contains("inproc"), "seed {seed}: {f:?}");
}

/// Peers that break the protocol (a garbled greeting, a socket type the victim refuses, a
/// frame over its MAXMSGSIZE) must cost their victim that connection, with its monitor
/// event: a driver that loses the HANDSHAKE_FAILED_PROTOCOL events is a safety failure, one
/// that keeps such connections open a liveness failure, each within a short sweep (about
/// one seed in three has intruders).
#[test]
fn a_victim_that_keeps_or_silently_drops_a_protocol_breaker_is_caught() {
    for (mutation, want) in [
        (Mutation::LoseProtocolFailureEvents, FailureKind::Safety),
        (Mutation::KeepIntrudersConnected, FailureKind::Liveness),
    ] {
        let clean = caught_within(mutation, 40, want, "intruder");
        assert!(clean.coverage.intruders_dropped > 0, "{clean}");
    }
}

/// Requires `mutation` caught within seeds `0..seeds`, as a failure of `kind` whose
/// description says `says`, on a seed that passes without it; hands back that clean run's
/// report (for its coverage).
fn caught_within(
    mutation: Mutation,
    seeds: u64,
    kind: FailureKind,
    says: &str,
) -> oxmq_sim::Report {
    let (seed, f) = (0..seeds)
        .find_map(|seed| {
            let r = run_seed(&RunOptions {
                mutation,
                ..RunOptions::new(seed)
            });
            r.failure.map(|f| (seed, f))
        })
        .unwrap_or_else(|| panic!("{mutation:?} survived {seeds} seeds"));
    assert_eq!(f.kind, kind, "{mutation:?} at seed {seed}: {}", f.what);
    assert!(f.what.contains(says), "{mutation:?}: {}", f.what);
    let clean = run_seed(&RunOptions::new(seed));
    assert!(clean.failure.is_none(), "{clean}");
    eprintln!("{mutation:?}: caught at seed {seed}: {}", f.what);
    clean
}

/// The first seed in `0..seeds`, with security drawn, on which `mutation` is caught.
fn first_secured_catch(mutation: Mutation, seeds: u64) -> Option<(u64, FailureKind, String)> {
    (0..seeds).find_map(|seed| {
        let r = run_seed(&RunOptions {
            mutation,
            security: true,
            ..RunOptions::new(seed)
        });
        r.failure.map(|f| (seed, f.kind, f.what))
    })
}

/// Security bugs the driver plays (a handler that ignores its deny-list, one that checks
/// no password, a handshake that goes on before the handler answered, properties lost on
/// the way up, HANDSHAKE_FAILED_AUTH events lost) are each caught by a short secured sweep,
/// as safety failures.
#[test]
fn security_bugs_are_caught_by_a_secured_sweep() {
    for mutation in [
        Mutation::ZapDenyIgnored,
        Mutation::ZapPasswordUnchecked,
        Mutation::ZapAnswersBeforeAsking,
        Mutation::PropertiesLost,
        Mutation::LoseAuthFailureEvents,
    ] {
        let Some((seed, kind, what)) = first_secured_catch(mutation, 60) else {
            panic!("{mutation:?} survived 60 secured seeds");
        };
        assert_eq!(
            kind,
            FailureKind::Safety,
            "{mutation:?} at seed {seed}: {what}"
        );
        eprintln!("{mutation:?}: caught at seed {seed}: {what}");
    }
}

/// A disconnect that drops what was queued for its endpoint, or lets its connections go on
/// writing past LINGER, breaks LINGER's promise as a close would: the linger phase's
/// disconnecting sockets (`linger-disconnect`) owe delivery, and every disconnect's
/// connections are watched for writes after their LINGER ran out.
#[test]
fn a_disconnect_that_ignores_linger_is_caught() {
    for (mutation, want, says) in [
        (
            Mutation::DisconnectDropsQueued,
            FailureKind::Liveness,
            "queued before it disconnected its endpoint",
        ),
        (
            Mutation::DisconnectLingersForever,
            FailureKind::Safety,
            "after its disconnect's LINGER",
        ),
    ] {
        caught_within(mutation, 60, want, says);
    }
}

/// A context termination that leaves inproc connects waiting for a bind keeps a socket
/// lingering on such a queue (LINGER forever) from ever finishing its close: the linger
/// phase's ghost PUSH (seeds with inproc) makes one, and the world's last check catches it.
#[test]
fn a_termination_that_waits_for_a_bind_that_cannot_come_is_caught() {
    let clean = caught_within(
        Mutation::TermKeepsWaitingConnects,
        60,
        FailureKind::Liveness,
        "linger Forever",
    );
    assert!(clean.coverage.term_ended_connects > 0, "{clean}");
}

/// A driver that drops a socket once its half has finished closing, while its sessions'
/// last commands (`Destroy`) still wait in shuffled mailboxes: their connections stay open
/// for good, and the check that a closed socket holds no connection catches it.
#[test]
fn a_socket_dropped_before_its_sessions_ended_is_caught() {
    caught_within(
        Mutation::ReapBeforeSessions,
        60,
        FailureKind::Safety,
        "still open or dialing",
    );
}
