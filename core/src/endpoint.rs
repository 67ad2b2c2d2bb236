//! Endpoint addresses: `tcp://`, `ipc://` and `inproc://`, parsed and checked here so every
//! driver refuses the same malformed strings with the same errors. Name resolution, being I/O,
//! is the driver's.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Longest `ipc://` path a Unix socket address holds (`sun_path` less the NUL).
pub const MAX_IPC_PATH: usize = 107;

/// A parsed endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `tcp://[source;]host:port`.
    Tcp {
        /// The local address to bind before connecting (`tcp://src;dst`), connect only.
        source: Option<TcpAddr>,
        /// The address to bind or connect to.
        addr: TcpAddr,
    },
    /// `ipc://path`, `ipc://@abstract` (Linux) or `ipc://*` (bind to a fresh path).
    Ipc(IpcAddr),
    /// `inproc://name`: sockets in the same context, joined without ZMTP.
    Inproc(String),
}

/// A TCP host and port as written in an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcpAddr {
    /// The host part.
    pub host: Host,
    /// The port part.
    pub port: Port,
}

/// The host of a TCP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// `*`: every local interface (bind only).
    Any,
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address, written in brackets, with an optional `%scope`.
    V6 {
        /// The address.
        addr: Ipv6Addr,
        /// The zone (interface name or index) after `%`, if any.
        scope: Option<String>,
    },
    /// A DNS name, or for bind an interface name; the driver resolves it.
    Name(String),
}

/// The port of a TCP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// `*` or `0`: the system picks a free port (bind only).
    Ephemeral,
    /// A fixed port.
    Number(u16),
}

/// An IPC address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpcAddr {
    /// A filesystem path.
    Path(String),
    /// A Linux abstract-namespace name (written `@name`).
    Abstract(String),
    /// `*`: the driver picks a fresh path (bind only).
    Ephemeral,
}

/// Why an endpoint string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not of the form `transport://address`, or the address does not parse (EINVAL).
    Malformed {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A transport oxmq does not speak (EPROTONOSUPPORT).
    UnsupportedTransport(String),
    /// Valid for bind, not for connect: a wildcard host or port (EINVAL).
    WildcardInConnect(String),
    /// A source address given to bind (EINVAL).
    SourceInBind(String),
    /// An IPC path longer than a Unix socket address holds (ENAMETOOLONG).
    PathTooLong(String),
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointError::Malformed { endpoint, reason } => {
                write!(f, "malformed endpoint {endpoint:?}: {reason}")
            }
            EndpointError::UnsupportedTransport(t) => {
                write!(
                    f,
                    "transport {t:?} is not supported (tcp, ipc and inproc are)"
                )
            }
            EndpointError::WildcardInConnect(e) => {
                write!(
                    f,
                    "cannot connect to {e:?}: a wildcard host or port is for bind only"
                )
            }
            EndpointError::SourceInBind(e) => {
                write!(f, "cannot bind {e:?}: a source address is for connect only")
            }
            EndpointError::PathTooLong(p) => write!(
                f,
                "ipc path {p:?} is longer than the {MAX_IPC_PATH} bytes a socket address holds"
            ),
        }
    }
}

impl std::error::Error for EndpointError {}

const KNOWN_UNSUPPORTED: [&str; 8] = ["pgm", "epgm", "norm", "vmci", "udp", "tipc", "ws", "wss"];

impl Endpoint {
    /// Parses an endpoint string. Bind/connect restrictions are checked separately.
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        let malformed = |reason| EndpointError::Malformed {
            endpoint: s.to_owned(),
            reason,
        };
        let (transport, rest) = s
            .split_once("://")
            .ok_or_else(|| malformed("expected transport://address"))?;
        match transport {
            "tcp" => {
                let (source, dest) = match rest.split_once(';') {
                    Some((src, dst)) => (Some(parse_tcp(src).map_err(malformed)?), dst),
                    None => (None, rest),
                };
                Ok(Endpoint::Tcp {
                    source,
                    addr: parse_tcp(dest).map_err(malformed)?,
                })
            }
            "ipc" => {
                let addr = match rest {
                    "" => return Err(malformed("empty ipc path")),
                    "*" => IpcAddr::Ephemeral,
                    _ if rest.len() > MAX_IPC_PATH => {
                        return Err(EndpointError::PathTooLong(rest.to_owned()))
                    }
                    _ => match rest.strip_prefix('@') {
                        Some("") => return Err(malformed("empty abstract ipc name")),
                        Some(name) => IpcAddr::Abstract(name.to_owned()),
                        None => IpcAddr::Path(rest.to_owned()),
                    },
                };
                Ok(Endpoint::Ipc(addr))
            }
            "inproc" if rest.is_empty() => Err(malformed("empty inproc name")),
            "inproc" => Ok(Endpoint::Inproc(rest.to_owned())),
            t if KNOWN_UNSUPPORTED.contains(&t) => {
                Err(EndpointError::UnsupportedTransport(t.to_owned()))
            }
            "" => Err(malformed("empty transport")),
            t => Err(EndpointError::UnsupportedTransport(t.to_owned())),
        }
    }

    /// Parses an endpoint for `bind`: no source address.
    pub fn parse_bind(s: &str) -> Result<Endpoint, EndpointError> {
        let e = Endpoint::parse(s)?;
        if let Endpoint::Tcp {
            source: Some(_), ..
        } = e
        {
            return Err(EndpointError::SourceInBind(s.to_owned()));
        }
        Ok(e)
    }

    /// Parses an endpoint for `connect`: no wildcard host, port or path.
    pub fn parse_connect(s: &str) -> Result<Endpoint, EndpointError> {
        let e = Endpoint::parse(s)?;
        let wildcard = match &e {
            Endpoint::Tcp { addr, .. } => addr.host == Host::Any || addr.port == Port::Ephemeral,
            Endpoint::Ipc(IpcAddr::Ephemeral) => true,
            _ => false,
        };
        if wildcard {
            return Err(EndpointError::WildcardInConnect(s.to_owned()));
        }
        Ok(e)
    }
}

/// Parses `host:port` of a TCP endpoint.
fn parse_tcp(s: &str) -> Result<TcpAddr, &'static str> {
    let (host, port) = s.rsplit_once(':').ok_or("expected host:port")?;
    let port = match port {
        "*" | "0" => Port::Ephemeral,
        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Port::Number(p.parse().map_err(|_| "port out of range")?)
        }
        _ => return Err("bad port"),
    };
    let host = if host == "*" {
        Host::Any
    } else if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("unclosed '[' in IPv6 host")?;
        let (addr, scope) = match inner.split_once('%') {
            Some((_, "")) => return Err("empty IPv6 scope"),
            Some((a, z)) => (a, Some(z.to_owned())),
            None => (inner, None),
        };
        let addr = Ipv6Addr::from_str(addr).map_err(|_| "bad IPv6 address")?;
        // An IPv4-mapped address is still written and used as IPv6.
        Host::V6 { addr, scope }
    } else if let Ok(v4) = Ipv4Addr::from_str(host) {
        Host::V4(v4)
    } else if host.contains(':') {
        return Err("IPv6 addresses must be written in brackets");
    } else if is_hostname(host) {
        Host::Name(host.to_owned())
    } else {
        return Err("bad host");
    };
    Ok(TcpAddr { host, port })
}

fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl std::fmt::Display for TcpAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Host::Any => f.write_str("*")?,
            Host::V4(a) => write!(f, "{a}")?,
            Host::V6 { addr, scope: None } => write!(f, "[{addr}]")?,
            Host::V6 {
                addr,
                scope: Some(z),
            } => write!(f, "[{addr}%{z}]")?,
            Host::Name(n) => f.write_str(n)?,
        }
        match self.port {
            Port::Ephemeral => f.write_str(":*"),
            Port::Number(p) => write!(f, ":{p}"),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { source: None, addr } => write!(f, "tcp://{addr}"),
            Endpoint::Tcp {
                source: Some(src),
                addr,
            } => write!(f, "tcp://{src};{addr}"),
            Endpoint::Ipc(IpcAddr::Path(p)) => write!(f, "ipc://{p}"),
            Endpoint::Ipc(IpcAddr::Abstract(n)) => write!(f, "ipc://@{n}"),
            Endpoint::Ipc(IpcAddr::Ephemeral) => f.write_str("ipc://*"),
            Endpoint::Inproc(n) => write!(f, "inproc://{n}"),
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: Host, port: Port) -> Endpoint {
        Endpoint::Tcp {
            source: None,
            addr: TcpAddr { host, port },
        }
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:5555").unwrap(),
            tcp(Host::V4(Ipv4Addr::LOCALHOST), Port::Number(5555))
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:5555").unwrap(),
            tcp(
                Host::V6 {
                    addr: Ipv6Addr::LOCALHOST,
                    scope: None
                },
                Port::Number(5555)
            )
        );
        assert_eq!(
            Endpoint::parse("tcp://*:*").unwrap(),
            tcp(Host::Any, Port::Ephemeral)
        );
        assert_eq!(
            Endpoint::parse("tcp://*:0").unwrap(),
            tcp(Host::Any, Port::Ephemeral)
        );
        assert_eq!(
            Endpoint::parse("tcp://localhost:80").unwrap(),
            tcp(Host::Name("localhost".into()), Port::Number(80))
        );
        assert_eq!(
            Endpoint::parse("tcp://eth0:80").unwrap(),
            tcp(Host::Name("eth0".into()), Port::Number(80))
        );
        let scoped = Endpoint::parse("tcp://[fe80::1%eth0]:9").unwrap();
        assert_eq!(scoped.to_string(), "tcp://[fe80::1%eth0]:9");
    }

    #[test]
    fn tcp_source_address_is_for_connect() {
        let e = Endpoint::parse_connect("tcp://10.0.0.1:0;127.0.0.1:5555").unwrap();
        match &e {
            Endpoint::Tcp {
                source: Some(src),
                addr,
            } => {
                assert_eq!(src.port, Port::Ephemeral);
                assert_eq!(addr.port, Port::Number(5555));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.to_string(), "tcp://10.0.0.1:*;127.0.0.1:5555");
        assert!(matches!(
            Endpoint::parse_bind("tcp://10.0.0.1:0;127.0.0.1:5555"),
            Err(EndpointError::SourceInBind(_))
        ));
    }

    #[test]
    fn wildcards_are_for_bind_only() {
        for e in [
            "tcp://*:5555",
            "tcp://127.0.0.1:*",
            "tcp://127.0.0.1:0",
            "ipc://*",
        ] {
            assert!(Endpoint::parse_bind(e).is_ok(), "{e}");
            assert!(
                matches!(
                    Endpoint::parse_connect(e),
                    Err(EndpointError::WildcardInConnect(_))
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn ipc_and_inproc() {
        assert_eq!(
            Endpoint::parse("ipc:///tmp/feeds/0").unwrap(),
            Endpoint::Ipc(IpcAddr::Path("/tmp/feeds/0".into()))
        );
        assert_eq!(
            Endpoint::parse("ipc://@oxmq").unwrap(),
            Endpoint::Ipc(IpcAddr::Abstract("oxmq".into()))
        );
        assert_eq!(
            Endpoint::parse("inproc://workers").unwrap(),
            Endpoint::Inproc("workers".into())
        );
        assert!(matches!(
            Endpoint::parse(&format!("ipc:///{}", "x".repeat(200))),
            Err(EndpointError::PathTooLong(_))
        ));
    }

    #[test]
    fn malformed_and_unsupported_get_clear_errors() {
        let malformed = [
            "",
            "tcp",
            "tcp:/127.0.0.1:1",
            "://x",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:",
            "tcp://127.0.0.1:65536",
            "tcp://127.0.0.1:-1",
            "tcp://127.0.0.1:12ab",
            "tcp://::1:5555",
            "tcp://[::1:5555",
            "tcp://[zz]:5555",
            "tcp://bad host:1",
            "tcp://:5555",
            "ipc://",
            "ipc://@",
            "inproc://",
        ];
        for s in malformed {
            assert!(
                matches!(Endpoint::parse(s), Err(EndpointError::Malformed { .. })),
                "{s}: {:?}",
                Endpoint::parse(s)
            );
        }
        for s in ["pgm://eth0;239.0.0.1:5555", "udp://*:5555", "foo://x"] {
            let err = Endpoint::parse(s).unwrap_err();
            assert!(matches!(err, EndpointError::UnsupportedTransport(_)), "{s}");
            assert!(err.to_string().contains("not supported"));
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "tcp://127.0.0.1:5555",
            "tcp://[::1]:1",
            "tcp://*:*",
            "tcp://example.com:80",
            "ipc:///tmp/x",
            "ipc://@abs",
            "ipc://*",
            "inproc://a/b",
        ] {
            assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
        }
    }
}
