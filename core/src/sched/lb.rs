//! Load-balance: round-robin each outgoing message over the pipes that can take one
//! (PUSH, DEALER, REQ). A pipe that refuses is parked until its session drains it.

use super::Rotation;
use crate::message::Message;
use crate::pipe::PipeId;

/// Round-robin over writable pipes: a new pipe is writable, so it starts in the rotation.
pub type LoadBalancer = Rotation<true>;

impl LoadBalancer {
    /// Sends `msg` to the next pipe that accepts it. `write` returns the message when a pipe is
    /// full; that pipe is parked and the next one tried. Gives the message back if none can take
    /// it.
    pub fn send<F>(&mut self, msg: Message, write: F) -> Result<PipeId, Message>
    where
        F: FnMut(PipeId, Message) -> Result<(), Message>,
    {
        self.step(msg, write).map(|(id, ())| id)
    }

    /// Whether some pipe can take a message now; parks the ones that cannot.
    pub fn has_out<F>(&mut self, can_write: F) -> bool
    where
        F: FnMut(PipeId) -> bool,
    {
        self.any_ready(can_write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(n: u64) -> Vec<PipeId> {
        (0..n).map(PipeId).collect()
    }

    #[test]
    fn round_robins_over_all_pipes() {
        let mut lb = LoadBalancer::new();
        for id in ids(3) {
            lb.attach(id);
        }
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(lb.send(Message::from("m"), |_, _| Ok(())).unwrap());
        }
        assert_eq!(&got[..3], &got[3..], "strict rotation");
        assert_eq!(got[..3].iter().collect::<BTreeSet<_>>().len(), 3);
    }

    #[test]
    fn skips_full_pipes_and_parks_them() {
        let mut lb = LoadBalancer::new();
        for id in ids(3) {
            lb.attach(id);
        }
        let full = PipeId(1);
        for _ in 0..4 {
            let to = lb
                .send(
                    Message::from("m"),
                    |id, m| if id == full { Err(m) } else { Ok(()) },
                )
                .unwrap();
            assert_ne!(to, full);
        }
        assert!(!lb.active().contains(&full));
        lb.activated(full);
        assert!(lb.active().contains(&full));
    }

    #[test]
    fn gives_the_message_back_when_no_pipe_can_take_it() {
        let mut lb = LoadBalancer::new();
        assert_eq!(
            lb.send(Message::from("m"), |_, _| Ok(())),
            Err(Message::from("m"))
        );
        lb.attach(PipeId(7));
        assert_eq!(
            lb.send(Message::from("m"), |_, m| Err(m)),
            Err(Message::from("m"))
        );
        assert!(lb.active().is_empty());
        assert!(!lb.has_out(|_| true));
    }

    #[test]
    fn detach_keeps_the_index_consistent() {
        let mut lb = LoadBalancer::new();
        for id in ids(5) {
            lb.attach(id);
        }
        lb.deactivate(PipeId(0));
        lb.detach(PipeId(2));
        lb.detach(PipeId(0));
        lb.detach(PipeId(99));
        assert_eq!(lb.len(), 3);
        let mut seen = BTreeSet::new();
        for _ in 0..3 {
            seen.insert(lb.send(Message::from("m"), |_, _| Ok(())).unwrap());
        }
        assert_eq!(seen, [1, 3, 4].map(PipeId).into());
    }
}
