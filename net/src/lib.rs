//! What both I/O shells (oxmq-mio and oxmq-tokio) do to operating-system sockets before
//! handing them to their own event loop, written once: TCP sockets made and set up as
//! libzmq sets them (TCP_NODELAY, SO_SNDBUF / SO_RCVBUF, SO_KEEPALIVE and its timers,
//! ZMQ_TOS, TCP_MAXRT, BINDTODEVICE, dual-stack IPv6, SO_REUSEADDR on listeners), addresses
//! that need no name lookup, and abstract Unix-domain sockets. Every socket returned is
//! non-blocking; each shell wraps it in its own type (`mio::net`, `tokio::net`).

pub mod rx;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};

use oxmq_core::endpoint::{Host, Port, TcpAddr};
use oxmq_core::DriverOptions;

/// The file a Unix-domain listener was bound to, to remove when it closes, but only while it
/// is still that listener's: a socket bound to the same path since (an application that
/// closed one socket and bound another there, as libzmq's `test_rebind_ipc` does) keeps its
/// file even when the first listener's close comes after the second bind.
#[derive(Debug)]
pub struct SocketFile {
    path: std::path::PathBuf,
    id: (u64, u64),
}

impl SocketFile {
    /// The file at `path` that a listener was just bound to; `None` if it cannot be read.
    pub fn bound(path: impl Into<std::path::PathBuf>) -> Option<SocketFile> {
        use std::os::unix::fs::MetadataExt;
        let path = path.into();
        let m = std::fs::symlink_metadata(&path).ok()?;
        Some(SocketFile {
            path,
            id: (m.dev(), m.ino()),
        })
    }

    /// Removes the file if it is still the one bound (same device and inode).
    pub fn remove(&self) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// The peer's IP as libzmq gives it in `Peer-Address` and ZAP requests: an IPv4-mapped IPv6
/// address as plain IPv4; empty when the address cannot be read.
pub fn peer_ip(addr: io::Result<SocketAddr>) -> String {
    addr.map(|a| match a.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        ip => ip.to_string(),
    })
    .unwrap_or_default()
}

fn port(addr: &TcpAddr) -> u16 {
    match addr.port {
        Port::Number(p) => p,
        Port::Ephemeral => 0,
    }
}

/// Resolves an address that needs no name lookup (`None` for a name). Without ZMQ_IPV6 a
/// wildcard bind is IPv4, as in libzmq; with it, dual-stack IPv6.
pub fn resolve_literal(addr: &TcpAddr, bind: bool, ipv6: bool) -> Option<io::Result<SocketAddr>> {
    let port = port(addr);
    Some(match &addr.host {
        Host::Any if bind && ipv6 => Ok(SocketAddr::from(([0u16; 8], port))),
        Host::Any if bind => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        Host::Any => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        Host::V4(a) => Ok(SocketAddr::from((*a, port))),
        Host::V6 { addr, .. } => Ok(SocketAddr::from((*addr, port))),
        Host::Name(_) => return None,
    })
}

/// The host name of an address that needs a lookup, with its port.
pub fn name_of(addr: &TcpAddr) -> Option<(&str, u16)> {
    match &addr.host {
        Host::Name(n) => Some((n.as_str(), port(addr))),
        _ => None,
    }
}

/// Picks the address a lookup's answers give: without ZMQ_IPV6 names resolve to IPv4 only,
/// as in libzmq.
pub fn pick(mut addrs: impl Iterator<Item = SocketAddr>, ipv6: bool) -> io::Result<SocketAddr> {
    addrs
        .find(|a| ipv6 || a.is_ipv4())
        .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))
}

/// Resolves `addr`, looking names up on this thread (blocking).
pub fn resolve_blocking(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    if let Some(r) = resolve_literal(addr, bind, ipv6) {
        return r;
    }
    let (name, port) = name_of(addr).expect("only names need a lookup");
    pick((name, port).to_socket_addrs()?, ipv6)
}

/// A non-blocking TCP socket for `addr`, with the options that must precede bind or connect.
pub fn tcp_socket(addr: SocketAddr, opts: &DriverOptions) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    if addr.is_ipv6() && opts.ipv6 {
        // Dual stack: IPv4 peers arrive as mapped addresses.
        s.set_only_v6(false)?;
    }
    #[cfg(target_os = "linux")]
    if let Some(dev) = &opts.bind_to_device {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(n) = opts.send_buffer {
        s.set_send_buffer_size(n)?;
    }
    if let Some(n) = opts.recv_buffer {
        s.set_recv_buffer_size(n)?;
    }
    Ok(s)
}

/// A listening, non-blocking TCP socket on `addr` (SO_REUSEADDR, ZMQ_TOS, ZMQ_BACKLOG).
pub fn tcp_listener(addr: SocketAddr, opts: &DriverOptions) -> io::Result<TcpListener> {
    let s = tcp_socket(addr, opts)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    set_tos(&s, addr.is_ipv6(), opts.tos)?;
    s.listen(i32::try_from(opts.backlog).unwrap_or(i32::MAX))?;
    Ok(s.into())
}

/// Starts a non-blocking connect to `addr` from `local` if given, with the stream options
/// set: the shell waits for writability, then checks `take_error`.
pub fn tcp_connect(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    opts: &DriverOptions,
) -> io::Result<TcpStream> {
    let s = tcp_socket(addr, opts)?;
    if let Some(local) = local {
        // As libzmq: several connections may share one source address and port.
        s.set_reuse_address(true)?;
        s.bind(&local.into())?;
    }
    match s.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let stream: TcpStream = s.into();
    stream_options(&stream, opts)?;
    Ok(stream)
}

/// EINPROGRESS: a non-blocking connect under way.
const EINPROGRESS: i32 = if cfg!(target_os = "linux") { 115 } else { 36 };

/// The options of a connected (or accepted) TCP stream, as libzmq sets them: TCP_NODELAY,
/// SO_KEEPALIVE and its timers, the buffer sizes, ZMQ_TOS and TCP_MAXRT.
pub fn stream_options(s: &impl AsFd, opts: &DriverOptions) -> io::Result<()> {
    let sock = socket2::SockRef::from(s);
    sock.set_nodelay(true)?;
    if let Some(on) = opts.keepalive {
        sock.set_keepalive(on)?;
    }
    if opts.keepalive == Some(true) {
        let mut ka = socket2::TcpKeepalive::new();
        if let Some(t) = opts.keepalive_idle {
            ka = ka.with_time(t);
        }
        if let Some(t) = opts.keepalive_interval {
            ka = ka.with_interval(t);
        }
        #[cfg(target_os = "linux")]
        if let Some(n) = opts.keepalive_count {
            ka = ka.with_retries(n);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    if let Some(n) = opts.send_buffer {
        sock.set_send_buffer_size(n)?;
    }
    if let Some(n) = opts.recv_buffer {
        sock.set_recv_buffer_size(n)?;
    }
    let ipv6 = sock.local_addr()?.as_socket().is_some_and(|a| a.is_ipv6());
    set_tos(&sock, ipv6, opts.tos)?;
    #[cfg(target_os = "linux")]
    if opts.max_retransmit.is_some() {
        sock.set_tcp_user_timeout(opts.max_retransmit)?;
    }
    Ok(())
}

/// ZMQ_TOS as libzmq sets it: IP_TOS, and on an IPv6 socket the traffic class as well (IP_TOS
/// then only covers IPv4-mapped peers, and some systems refuse it there).
fn set_tos(s: &socket2::Socket, ipv6: bool, tos: u32) -> io::Result<()> {
    if tos == 0 {
        return Ok(());
    }
    if !ipv6 {
        return s.set_tos(tos);
    }
    let _ = s.set_tos(tos);
    #[cfg(target_os = "linux")]
    s.set_tclass_v6(tos)?;
    Ok(())
}

/// A non-blocking Unix-domain listener on an abstract name (Linux only).
pub fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        let l =
            UnixListener::bind_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)?;
        l.set_nonblocking(true)?;
        Ok(l)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// A non-blocking Unix-domain stream connected to an abstract name (Linux only).
pub fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        let s =
            UnixStream::connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)?;
        s.set_nonblocking(true)?;
        Ok(s)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {

    /// A listener closed after another was bound to its path leaves the new file alone.
    #[test]
    fn a_socket_file_is_removed_only_while_it_is_ours() {
        let path = std::env::temp_dir().join(format!("oxmq-net-rebind-{}.ipc", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let first = UnixListener::bind(&path).unwrap();
        let first_file = SocketFile::bound(&path).unwrap();
        // The application binds again in the meantime (libzmq removes the stale file first).
        std::fs::remove_file(&path).unwrap();
        let second = UnixListener::bind(&path).unwrap();
        let second_file = SocketFile::bound(&path).unwrap();
        drop(first);
        first_file.remove();
        assert!(path.exists(), "the second listener's file was removed");
        UnixStream::connect(&path).expect("the second listener is still reachable");
        drop(second);
        second_file.remove();
        assert!(!path.exists());
    }

    use super::*;

    #[test]
    fn options_reach_the_socket() {
        let opts = DriverOptions {
            keepalive: Some(true),
            keepalive_idle: Some(std::time::Duration::from_secs(30)),
            keepalive_interval: Some(std::time::Duration::from_secs(5)),
            keepalive_count: Some(4),
            tos: 0x28,
            max_retransmit: Some(std::time::Duration::from_millis(1500)),
            ..DriverOptions::default()
        };
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let to = l.local_addr().unwrap();
        let s = tcp_connect(to, None, &opts).unwrap();
        let sock = socket2::SockRef::from(&s);
        assert!(sock.nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tos().unwrap(), 0x28);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(sock.keepalive_time().unwrap().as_secs(), 30);
            assert_eq!(sock.keepalive_interval().unwrap().as_secs(), 5);
            assert_eq!(sock.keepalive_retries().unwrap(), 4);
            assert_eq!(
                sock.tcp_user_timeout().unwrap(),
                Some(std::time::Duration::from_millis(1500))
            );
        }
    }

    #[test]
    fn literal_addresses_resolve_without_a_lookup() {
        let tcp = |s: &str| match oxmq_core::endpoint::Endpoint::parse(s).unwrap() {
            oxmq_core::endpoint::Endpoint::Tcp { addr, .. } => addr,
            other => panic!("{other:?}"),
        };
        let any = tcp("tcp://*:5555");
        assert_eq!(
            resolve_literal(&any, true, false).unwrap().unwrap(),
            "0.0.0.0:5555".parse().unwrap()
        );
        assert!(resolve_literal(&any, false, false).unwrap().is_err());
        let name = tcp("tcp://localhost:1");
        assert!(resolve_literal(&name, false, false).is_none());
        assert!(resolve_blocking(&name, false, false).unwrap().is_ipv4());
    }
}
