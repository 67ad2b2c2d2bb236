//! The workloads' messages: every frame says who sent it and where it belongs, so a receiver
//! can tell a split, mixed or foreign multipart message from a whole one.
//!
//! Frame 0 is `topic|sender|seq|probe|frames|extra|pad|` followed by `pad` filler bytes;
//! frame `i` (1..frames) is `sender.seq.i`. The topic comes first so PUB/SUB prefix matching
//! applies to it; the filler lets a seed send messages big enough to fill queues.

use bytes::Bytes;
use oxmq_core::Message;

/// What a workload message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The PUB/SUB topic (empty elsewhere); never contains `|`.
    pub topic: String,
    /// The sending socket (a simulator socket id: unique across restarts).
    pub sender: u64,
    /// The sender's sequence number.
    pub seq: u64,
    /// Sent after healing: it must arrive within the liveness bound.
    pub probe: bool,
    /// How many frames the message has.
    pub frames: usize,
    /// Free text: a routing id, a server's name on a reply.
    pub extra: String,
    /// Filler bytes at the end of frame 0.
    pub pad: usize,
}

impl Payload {
    /// A message with `frames` frames, none from a topic.
    pub fn new(sender: u64, seq: u64, frames: usize, probe: bool) -> Payload {
        Payload {
            topic: String::new(),
            sender,
            seq,
            probe,
            frames: frames.max(1),
            extra: String::new(),
            pad: 0,
        }
    }

    /// The message's identity: who sent it and its number.
    pub fn id(&self) -> (u64, u64) {
        (self.sender, self.seq)
    }

    /// The frames as a ZeroMQ message.
    pub fn encode(&self) -> Message {
        let mut head = format!(
            "{}|{}|{}|{}|{}|{}|{}|",
            self.topic, self.sender, self.seq, self.probe as u8, self.frames, self.extra, self.pad
        )
        .into_bytes();
        head.resize(head.len() + self.pad, b'.');
        let mut frames = vec![Bytes::from(head)];
        for i in 1..self.frames {
            frames.push(Bytes::from(format!("{}.{}.{i}", self.sender, self.seq)));
        }
        Message::from_frames(frames)
    }

    /// Reads a message back, checking that its frames belong together and none is missing.
    pub fn decode(frames: &[oxmq_core::Frame]) -> Result<Payload, String> {
        let head = frames.first().ok_or("no frames")?;
        let head = std::str::from_utf8(head).map_err(|_| "frame 0 is not text")?;
        let f: Vec<&str> = head.splitn(8, '|').collect();
        if f.len() != 8 {
            return Err(format!("frame 0 malformed: {head:?}"));
        }
        let num = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("bad number in {head:?}"))
        };
        let p = Payload {
            topic: f[0].to_owned(),
            sender: num(f[1])?,
            seq: num(f[2])?,
            probe: f[3] == "1",
            frames: num(f[4])? as usize,
            extra: f[5].to_owned(),
            pad: num(f[6])? as usize,
        };
        if f[7].len() != p.pad || f[7].bytes().any(|b| b != b'.') {
            return Err(format!(
                "frame 0 filler cut or altered: {} bytes, expected {}",
                f[7].len(),
                p.pad
            ));
        }
        if frames.len() != p.frames {
            return Err(format!(
                "multipart split: {} frames, expected {} ({head:?})",
                frames.len(),
                p.frames
            ));
        }
        for (i, fr) in frames.iter().enumerate().skip(1) {
            let want = format!("{}.{}.{i}", p.sender, p.seq);
            if fr.as_ref() != want.as_bytes() {
                return Err(format!(
                    "multipart mixed: frame {i} is {:?}, expected {want:?}",
                    String::from_utf8_lossy(fr)
                ));
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_catches_a_foreign_frame() {
        let mut p = Payload::new(7, 42, 3, true);
        p.topic = "AB".into();
        p.extra = "srv1".into();
        p.pad = 100;
        let m = p.encode();
        assert!(m.frames()[0].starts_with(b"AB|"));
        assert_eq!(Payload::decode(m.frames()), Ok(p.clone()));
        let mut frames = m.frames().to_vec();
        frames[2] = oxmq_core::Frame::from(b"7.41.2");
        assert!(Payload::decode(&frames).is_err());
        assert!(Payload::decode(&frames[..2]).is_err());
    }
}
