//! Socket types, their ZMTP names and which may talk to which.

/// Every ZeroMQ socket type, stable and draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SocketType {
    Pair,
    Pub,
    Sub,
    Req,
    Rep,
    Dealer,
    Router,
    Pull,
    Push,
    XPub,
    XSub,
    Stream,
    Server,
    Client,
    Radio,
    Dish,
    Gather,
    Scatter,
    Peer,
    Channel,
}

impl SocketType {
    /// Every socket type, in libzmq's numbering order.
    pub const ALL: [SocketType; 20] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Stream,
        SocketType::Server,
        SocketType::Client,
        SocketType::Radio,
        SocketType::Dish,
        SocketType::Gather,
        SocketType::Scatter,
        SocketType::Peer,
        SocketType::Channel,
    ];

    /// The name carried in the READY `Socket-Type` property (RFC 23 §"The Socket-Type Property").
    pub const fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Stream => "STREAM",
            SocketType::Server => "SERVER",
            SocketType::Client => "CLIENT",
            SocketType::Radio => "RADIO",
            SocketType::Dish => "DISH",
            SocketType::Gather => "GATHER",
            SocketType::Scatter => "SCATTER",
            SocketType::Peer => "PEER",
            SocketType::Channel => "CHANNEL",
        }
    }

    /// Parses a socket-type name as it appears on the wire. ZMTP names are upper case; lower
    /// and mixed case are accepted too.
    pub fn from_name(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether a socket of this type may exchange messages with a peer of type `peer`
    /// (RFC 23 / RFC 37 socket-type compatibility, as libzmq enforces it).
    pub fn is_compatible_with(self, peer: SocketType) -> bool {
        use SocketType::*;
        match self {
            Req => matches!(peer, Rep | Router),
            Rep => matches!(peer, Req | Dealer),
            Dealer => matches!(peer, Rep | Dealer | Router),
            Router => matches!(peer, Req | Dealer | Router),
            Pub | XPub => matches!(peer, Sub | XSub),
            Sub | XSub => matches!(peer, Pub | XPub),
            Push => peer == Pull,
            Pull => peer == Push,
            Pair => peer == Pair,
            Client => peer == Server,
            Server => peer == Client,
            Radio => peer == Dish,
            Dish => peer == Radio,
            Scatter => peer == Gather,
            Gather => peer == Scatter,
            Peer => peer == Peer,
            Channel => peer == Channel,
            // STREAM speaks raw bytes, never ZMTP.
            Stream => false,
        }
    }

    /// Whether libzmq sends an `Identity` property in READY from this type: it does from REQ,
    /// DEALER and ROUTER, which are the types whose peers may route by it.
    pub fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }

    /// The draft types, which refuse multipart messages.
    pub fn is_draft(self) -> bool {
        use SocketType::*;
        matches!(
            self,
            Server | Client | Radio | Dish | Gather | Scatter | Peer | Channel
        )
    }
}

impl std::fmt::Display for SocketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SocketType {
    type Err = UnknownSocketType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SocketType::from_name(s.as_bytes()).ok_or_else(|| UnknownSocketType(s.to_owned()))
    }
}

/// A socket-type name that no ZeroMQ socket type has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSocketType(pub String);

impl std::fmt::Display for UnknownSocketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown socket type {:?}", self.0)
    }
}

impl std::error::Error for UnknownSocketType {}

#[cfg(test)]
mod tests {
    use super::SocketType::{self, *};

    #[test]
    fn names_round_trip_case_insensitively() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_name(t.as_str().as_bytes()), Some(t));
            assert_eq!(t.as_str().to_lowercase().parse::<SocketType>(), Ok(t));
        }
        assert_eq!(SocketType::from_name(b"NOPE"), None);
    }

    #[test]
    fn compatibility_is_symmetric() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(
                    a.is_compatible_with(b),
                    b.is_compatible_with(a),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn the_rfc_matrix() {
        let allowed: &[(SocketType, &[SocketType])] = &[
            (Req, &[Rep, Router]),
            (Rep, &[Req, Dealer]),
            (Dealer, &[Rep, Dealer, Router]),
            (Router, &[Req, Dealer, Router]),
            (Pub, &[Sub, XSub]),
            (XPub, &[Sub, XSub]),
            (Sub, &[Pub, XPub]),
            (XSub, &[Pub, XPub]),
            (Push, &[Pull]),
            (Pull, &[Push]),
            (Pair, &[Pair]),
            (Stream, &[]),
        ];
        for (a, peers) in allowed {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible_with(b), peers.contains(&b), "{a} vs {b}");
            }
        }
    }
}
