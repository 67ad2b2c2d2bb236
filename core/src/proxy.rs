//! The steerable proxy's bookkeeping (`zmq_proxy_steerable`), which every front-end's proxy
//! loop shares: the commands a control socket may send, the counters STATISTICS reports, and
//! what the control socket gets back. The loop itself — which side to read, waiting for the
//! other side to take a message — belongs to each front-end's I/O.

use bytes::Bytes;

use crate::message::Message;

/// What a proxy moved, as libzmq's STATISTICS reports it (messages and bytes, in and out,
/// per side).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Messages received on the frontend.
    pub frontend_in: u64,
    /// Bytes received on the frontend.
    pub frontend_in_bytes: u64,
    /// Messages sent on the frontend.
    pub frontend_out: u64,
    /// Bytes sent on the frontend.
    pub frontend_out_bytes: u64,
    /// Messages received on the backend.
    pub backend_in: u64,
    /// Bytes received on the backend.
    pub backend_in_bytes: u64,
    /// Messages sent on the backend.
    pub backend_out: u64,
    /// Bytes sent on the backend.
    pub backend_out_bytes: u64,
}

impl ProxyStats {
    /// Counts one message of `bytes` forwarded frontend → backend (`front_to_back`) or back.
    pub fn record(&mut self, front_to_back: bool, bytes: u64) {
        if front_to_back {
            self.frontend_in += 1;
            self.frontend_in_bytes += bytes;
            self.backend_out += 1;
            self.backend_out_bytes += bytes;
        } else {
            self.backend_in += 1;
            self.backend_in_bytes += bytes;
            self.frontend_out += 1;
            self.frontend_out_bytes += bytes;
        }
    }

    /// The eight counters in libzmq's STATISTICS order.
    pub fn counters(&self) -> [u64; 8] {
        [
            self.frontend_in,
            self.frontend_in_bytes,
            self.frontend_out,
            self.frontend_out_bytes,
            self.backend_in,
            self.backend_in_bytes,
            self.backend_out,
            self.backend_out_bytes,
        ]
    }
}

/// A command on the proxy's control socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyCommand {
    /// `PAUSE`: stop forwarding until RESUME.
    Pause,
    /// `RESUME`: forward again.
    Resume,
    /// `TERMINATE`: end the proxy.
    Terminate,
    /// `STATISTICS`: answer with the counters.
    Statistics,
    /// Anything else, ignored as libzmq does.
    Unknown,
}

impl ProxyCommand {
    /// The command a control message's first frame names.
    pub fn parse(msg: &Message) -> ProxyCommand {
        match msg.frames().first().map(|f| &f[..]) {
            Some(b"PAUSE") => ProxyCommand::Pause,
            Some(b"RESUME") => ProxyCommand::Resume,
            Some(b"TERMINATE") => ProxyCommand::Terminate,
            Some(b"STATISTICS") => ProxyCommand::Statistics,
            _ => ProxyCommand::Unknown,
        }
    }

    /// What the control socket gets back: STATISTICS gets eight frames of 8-byte counters
    /// (native byte order, as libzmq writes them); the other commands an empty message when
    /// the control socket is a REP (to keep its lock-step), else nothing.
    pub fn reply(self, stats: &ProxyStats, control_is_rep: bool) -> Option<Message> {
        match self {
            ProxyCommand::Statistics => Some(Message::from_frames(
                stats
                    .counters()
                    .map(|n| Bytes::copy_from_slice(&n.to_ne_bytes())),
            )),
            _ if control_is_rep => Some(Message::from_frames([Bytes::new()])),
            _ => None,
        }
    }
}

/// The proxy's state between I/O steps: paused or not, and its counters.
#[derive(Clone, Debug, Default)]
pub struct ProxySteering {
    /// Whether PAUSE is in force.
    pub paused: bool,
    /// What has been forwarded.
    pub stats: ProxyStats,
}

impl ProxySteering {
    /// Applies a control message; returns the command and the reply to send, if any.
    pub fn control(
        &mut self,
        msg: &Message,
        control_is_rep: bool,
    ) -> (ProxyCommand, Option<Message>) {
        let cmd = ProxyCommand::parse(msg);
        match cmd {
            ProxyCommand::Pause => self.paused = true,
            ProxyCommand::Resume => self.paused = false,
            _ => {}
        }
        (cmd, cmd.reply(&self.stats, control_is_rep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_steer_and_statistics_counts_both_ways() {
        let mut s = ProxySteering::default();
        s.stats.record(true, 10);
        s.stats.record(true, 5);
        s.stats.record(false, 7);
        assert_eq!(s.stats.counters(), [2, 15, 1, 7, 1, 7, 2, 15]);
        let (cmd, reply) = s.control(&Message::from("PAUSE"), false);
        assert_eq!((cmd, reply, s.paused), (ProxyCommand::Pause, None, true));
        let (cmd, reply) = s.control(&Message::from("RESUME"), true);
        assert_eq!(cmd, ProxyCommand::Resume);
        assert!(!s.paused);
        assert_eq!(reply.unwrap().frames(), &[Bytes::new()]);
        let (cmd, reply) = s.control(&Message::from("STATISTICS"), true);
        assert_eq!(cmd, ProxyCommand::Statistics);
        let frames = reply.unwrap().into_frames();
        assert_eq!(frames.len(), 8);
        assert_eq!(frames[1][..], 15u64.to_ne_bytes());
        assert_eq!(
            s.control(&Message::from("TERMINATE"), false).0,
            ProxyCommand::Terminate
        );
        assert_eq!(
            s.control(&Message::from("bogus"), false),
            (ProxyCommand::Unknown, None)
        );
    }
}
