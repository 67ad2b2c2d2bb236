//! Fairness among live peers: load-balancing sends round-robin over the pipes that can take a
//! message (RFC 28 DEALER/REQ, RFC 30 PUSH: "SHALL route outgoing messages to available peers
//! using a round-robin strategy"); fair-queueing reads round-robin over the pipes that have one
//! (RFC 28 ROUTER/REP/DEALER, RFC 30 PULL: "SHALL receive incoming messages from its peers
//! using a fair-queuing strategy").
//!
//! Both are measured per *epoch*: a stretch in which the socket's set of pipes stays the same
//! (no connection attached or detached). A load-balancing epoch also ends at any send the
//! scheduler may have treated specially: a pipe above its low-water mark (it may be parked at
//! its HWM), a pipe holding unread input (it may be a closing pipe the pattern refuses), or a
//! send that failed. Faults therefore only shorten epochs; within one the bound is exact.

use std::collections::BTreeMap;

use oxmq_core::PipeId;

/// Load-balancing: within an epoch over `n` pipes, strict round-robin gives every pipe its
/// turn once per `n` sends, so after any prefix of the epoch the per-pipe counts differ by at
/// most one.
#[derive(Debug, Default)]
pub struct LoadBalance {
    epochs: BTreeMap<u64, LbEpoch>,
}

#[derive(Debug)]
struct LbEpoch {
    pipes: Vec<PipeId>,
    counts: Vec<u64>,
    /// The pipes chosen so far (the last few), for the failure message.
    chosen: Vec<u64>,
}

impl LoadBalance {
    /// `sock` made a send the bound does not cover: its next clean send begins a new epoch.
    pub fn interrupt(&mut self, sock: u64) {
        self.epochs.remove(&sock);
    }

    /// `sock`, whose pipes were `pipes` (in id order, none near its HWM), sent a message that
    /// went to pipe `to`. An error says how the rotation broke.
    pub fn sent(&mut self, sock: u64, pipes: Vec<PipeId>, to: PipeId) -> Result<(), String> {
        let epoch = self.epochs.entry(sock).or_insert_with(|| LbEpoch {
            counts: vec![0; pipes.len()],
            pipes: Vec::new(),
            chosen: Vec::new(),
        });
        if epoch.pipes != pipes {
            *epoch = LbEpoch {
                counts: vec![0; pipes.len()],
                pipes,
                chosen: Vec::new(),
            };
        }
        let Ok(i) = epoch.pipes.binary_search(&to) else {
            return Err(format!(
                "load-balancing: s{sock} sent to pipe {} which is not among its pipes {:?}",
                to.0,
                ids(&epoch.pipes)
            ));
        };
        epoch.counts[i] += 1;
        epoch.chosen.push(to.0);
        let max = epoch.counts.iter().max().copied().unwrap_or(0);
        let min = epoch.counts.iter().min().copied().unwrap_or(0);
        if max - min > 1 {
            let sends: u64 = epoch.counts.iter().sum();
            let tail = &epoch.chosen[epoch.chosen.len().saturating_sub(12)..];
            return Err(format!(
                "load-balancing is not round-robin: s{sock} made {sends} sends while its {} \
                 pipes {:?} stayed live and below their HWM, and they got {:?} (last pipes \
                 chosen {tail:?})",
                epoch.pipes.len(),
                ids(&epoch.pipes),
                epoch.counts
            ));
        }
        Ok(())
    }
}

/// Fair-queueing: within an epoch over `n` pipes, a pipe with a message waiting is served
/// before any other pipe is served twice, so it waits through at most `n - 1` receives from
/// other pipes.
#[derive(Debug, Default)]
pub struct FairQueue {
    socks: BTreeMap<u64, FqEpoch>,
}

#[derive(Debug, Default)]
struct FqEpoch {
    pipes: Vec<PipeId>,
    /// Receives from other pipes since each waiting pipe was last served or empty.
    passed_over: BTreeMap<PipeId, u64>,
}

impl FairQueue {
    /// `sock`, whose pipes were `pipes` (in id order) and of which `waiting` held messages,
    /// handed the application a message from pipe `from`. An error names the starved pipe.
    pub fn received(
        &mut self,
        sock: u64,
        pipes: Vec<PipeId>,
        waiting: &[PipeId],
        from: PipeId,
    ) -> Result<(), String> {
        let epoch = self.socks.entry(sock).or_default();
        if epoch.pipes != pipes {
            *epoch = FqEpoch {
                pipes,
                passed_over: BTreeMap::new(),
            };
        }
        let n = epoch.pipes.len() as u64;
        epoch
            .passed_over
            .retain(|p, _| *p != from && waiting.contains(p));
        for &q in waiting.iter().filter(|q| **q != from) {
            let count = epoch.passed_over.entry(q).or_insert(0);
            *count += 1;
            if *count >= n {
                return Err(format!(
                    "fair-queueing starves a pipe: s{sock} handed up {count} messages from \
                     other pipes while pipe {} had one waiting, with {n} pipes {:?} (the last \
                     from pipe {})",
                    q.0,
                    ids(&epoch.pipes),
                    from.0
                ));
            }
        }
        Ok(())
    }

    /// `sock` is gone.
    pub fn forget(&mut self, sock: u64) {
        self.socks.remove(&sock);
    }
}

fn ids(pipes: &[PipeId]) -> Vec<u64> {
    pipes.iter().map(|p| p.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ids: &[u64]) -> Vec<PipeId> {
        ids.iter().copied().map(PipeId).collect()
    }

    #[test]
    fn round_robin_passes_and_a_favourite_pipe_fails() {
        let mut lb = LoadBalance::default();
        for to in [2, 3, 1, 2, 3, 1, 2] {
            lb.sent(7, p(&[1, 2, 3]), PipeId(to)).unwrap();
        }
        // A new pipe starts a new epoch: the old counts do not carry over.
        lb.sent(7, p(&[1, 2, 3, 4]), PipeId(4)).unwrap();
        lb.interrupt(7);
        lb.sent(7, p(&[1, 2, 3, 4]), PipeId(1)).unwrap();
        let e = lb.sent(7, p(&[1, 2, 3, 4]), PipeId(1)).unwrap_err();
        assert!(e.contains("not round-robin"), "{e}");
        assert!(lb.sent(8, p(&[1]), PipeId(2)).is_err());
    }

    #[test]
    fn a_pipe_waiting_through_a_full_rotation_is_starved() {
        let mut fq = FairQueue::default();
        let pipes = p(&[1, 2, 3]);
        // 1, 2 and 3 all wait; 1 then 2 is served, then 3: fair.
        fq.received(5, pipes.clone(), &p(&[1, 2, 3]), PipeId(1))
            .unwrap();
        fq.received(5, pipes.clone(), &p(&[1, 2, 3]), PipeId(2))
            .unwrap();
        fq.received(5, pipes.clone(), &p(&[1, 2, 3]), PipeId(3))
            .unwrap();
        // 1 keeps being served while 3 waits: the third pass over it is too many.
        fq.received(5, pipes.clone(), &p(&[1, 3]), PipeId(1))
            .unwrap();
        fq.received(5, pipes.clone(), &p(&[1, 3]), PipeId(1))
            .unwrap();
        let e = fq
            .received(5, pipes.clone(), &p(&[1, 3]), PipeId(1))
            .unwrap_err();
        assert!(e.contains("starves a pipe"), "{e}");
        // A pipe that ran dry starts counting afresh.
        fq.forget(5);
        fq.received(5, pipes.clone(), &p(&[1, 3]), PipeId(1))
            .unwrap();
        fq.received(5, pipes.clone(), &p(&[1]), PipeId(1)).unwrap();
        fq.received(5, pipes.clone(), &p(&[1, 3]), PipeId(1))
            .unwrap();
        fq.received(5, pipes, &p(&[1, 3]), PipeId(1)).unwrap();
    }
}
