//! What a socket's pattern holds per pipe: its schedulers (load-balance, fair-queue,
//! distribute) and routing tables let go of a pipe as the pipe ends (libzmq's
//! `xpipe_terminated`), so none of them ever holds more pipe ids than the socket has pipes.
//! A scheduler that kept ended pipes would grow with every reconnection: a leak no other
//! promise shows until memory runs out.

use super::Sim;
use crate::oracle::FailureKind;

impl Sim {
    /// Socket `s` has settled: its pattern holds no more pipe ids than it has pipes.
    pub(super) fn check_holdings(&mut self, s: usize) {
        let Some(base) = self.socks[s].base.as_ref() else {
            return;
        };
        let sock = base.socket();
        let (held, pipes) = (sock.holdings(), sock.pipe_ids().count());
        if held > pipes {
            let now = self.now;
            let what = format!(
                "s{s}'s pattern holds {held} pipe ids in one scheduler or routing table, \
                 though the socket has {pipes} pipes: ended pipes were not let go"
            );
            self.oracle.fail(FailureKind::Safety, now, what);
        }
    }
}
