//! The operating system's side: streams and listeners over TCP and Unix-domain sockets, with
//! the options libzmq sets on them.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use oxmq_core::endpoint::{Endpoint, Host, IpcAddr, Port, TcpAddr};
use oxmq_core::DriverOptions;

/// A connected (or connecting) stream.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => {
                let mut s: &TcpStream = s;
                s.read(buf)
            }
            Stream::Unix(s) => {
                let mut s: &UnixStream = s;
                s.read(buf)
            }
        }
    }

    /// Writes with `send(2)` and `MSG_NOSIGNAL`, never `write(2)`: a
    /// peer gone must come back as `EPIPE`, not as a SIGPIPE that kills a C program that
    /// did not ignore it (Rust programs do; libzmq's users need not).
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s).send_with_flags(buf, libc::MSG_NOSIGNAL),
            Stream::Unix(s) => socket2::SockRef::from(s).send_with_flags(buf, libc::MSG_NOSIGNAL),
        }
    }

    /// `sendmsg(2)` with `MSG_NOSIGNAL`, for the same reason as [`Stream::write`].
    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => {
                socket2::SockRef::from(s).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
            }
            Stream::Unix(s) => {
                socket2::SockRef::from(s).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
            }
        }
    }

    /// The peer's IP address as text (libzmq's `Peer-Address`); empty for IPC.
    pub(crate) fn peer_ip(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| match a.ip() {
                    std::net::IpAddr::V6(v6) => v6
                        .to_ipv4_mapped()
                        .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
                    ip => ip.to_string(),
                })
                .unwrap_or_default(),
            Stream::Unix(_) => String::new(),
        }
    }

    /// For a connect in progress: `Ok(true)` connected, `Ok(false)` not yet, `Err` failed.
    pub(crate) fn connect_status(&self) -> io::Result<bool> {
        let err = match self {
            Stream::Tcp(s) => s.take_error()?,
            Stream::Unix(s) => s.take_error()?,
        };
        if let Some(e) = err {
            return Err(e);
        }
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(|_| ()),
            Stream::Unix(s) => s.peer_addr().map(|_| ()),
        };
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A listening socket; a Unix one remembers the file to remove.
pub(crate) enum Listen {
    Tcp(TcpListener),
    Unix(UnixListener, Option<PathBuf>),
}

impl Listen {
    /// Binds and listens on `ep` (not inproc); returns the listener and the endpoint as
    /// bound. `serial` names an ephemeral IPC file.
    pub(crate) fn open(
        ep: &Endpoint,
        opts: &DriverOptions,
        serial: u64,
    ) -> io::Result<(Listen, String)> {
        match ep {
            Endpoint::Tcp { addr, .. } => {
                let sa = resolve(addr, true, opts.ipv6)?;
                let l = tcp_listener(sa, opts)?;
                let bound = format!("tcp://{}", l.local_addr()?);
                Ok((Listen::Tcp(l), bound))
            }
            Endpoint::Ipc(addr) => {
                let (l, path, shown) = match addr {
                    IpcAddr::Path(p) => {
                        // libzmq removes a socket file left behind by an earlier run.
                        let _ = std::fs::remove_file(p);
                        (UnixListener::bind(p)?, Some(PathBuf::from(p)), p.clone())
                    }
                    IpcAddr::Ephemeral => {
                        let p = std::env::temp_dir().join(format!(
                            "oxmq-{}-{}.ipc",
                            std::process::id(),
                            serial
                        ));
                        let shown = p.to_string_lossy().into_owned();
                        (UnixListener::bind(&p)?, Some(p), shown)
                    }
                    IpcAddr::Abstract(name) => (bind_abstract(name)?, None, format!("@{name}")),
                };
                Ok((Listen::Unix(l, path), format!("ipc://{shown}")))
            }
            Endpoint::Inproc(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Accepts one connection, with the stream options set (best effort, as in libzmq).
    pub(crate) fn accept(&self, opts: &DriverOptions) -> io::Result<Stream> {
        match self {
            Listen::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = stream_options(&s, opts);
                Stream::Tcp(s)
            }),
            Listen::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    /// The listener as a mio source.
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listen::Tcp(l) => l,
            Listen::Unix(l, _) => l,
        }
    }

    /// Removes the socket file of a Unix listener bound to a path.
    pub(crate) fn remove_file(&self) {
        if let Listen::Unix(_, Some(p)) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Starts a connection to `ep` (not inproc): TCP connects in the background (watch for
/// writability, then [`Stream::connect_status`]); IPC connects at once.
pub(crate) fn dial(ep: &Endpoint, opts: &DriverOptions) -> io::Result<(Stream, bool)> {
    Ok(match ep {
        Endpoint::Tcp { addr, source } => {
            let local = match source {
                Some(src) => Some(resolve(src, true, opts.ipv6)?),
                None => None,
            };
            let s = tcp_connect(resolve(addr, false, opts.ipv6)?, local, opts)?;
            (Stream::Tcp(s), true)
        }
        Endpoint::Ipc(IpcAddr::Path(p)) => (Stream::Unix(UnixStream::connect(p)?), false),
        Endpoint::Ipc(IpcAddr::Abstract(name)) => (Stream::Unix(connect_abstract(name)?), false),
        _ => return Err(io::Error::from(io::ErrorKind::Unsupported)),
    })
}

fn resolve(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    let port = match addr.port {
        Port::Number(p) => p,
        Port::Ephemeral => 0,
    };
    match &addr.host {
        Host::Any if bind && ipv6 => Ok(SocketAddr::from(([0u16; 8], port))),
        Host::Any if bind => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        Host::Any => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        Host::V4(a) => Ok(SocketAddr::from((*a, port))),
        Host::V6 { addr, .. } => Ok(SocketAddr::from((*addr, port))),
        // Without ZMQ_IPV6, names resolve to IPv4 addresses only, as in libzmq.
        Host::Name(n) => (n.as_str(), port)
            .to_socket_addrs()?
            .find(|a| ipv6 || a.is_ipv4())
            .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)),
    }
}

fn socket_for(addr: SocketAddr, opts: &DriverOptions) -> io::Result<socket2::Socket> {
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

fn tcp_listener(addr: SocketAddr, opts: &DriverOptions) -> io::Result<TcpListener> {
    let s = socket_for(addr, opts)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    set_tos(&s, addr.is_ipv6(), opts.tos)?;
    s.listen(i32::try_from(opts.backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(s.into()))
}

fn tcp_connect(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    opts: &DriverOptions,
) -> io::Result<TcpStream> {
    let s = socket_for(addr, opts)?;
    if let Some(local) = local {
        // As libzmq: several connections may share one source address and port.
        s.set_reuse_address(true)?;
        s.bind(&local.into())?;
    }
    match s.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc_einprogress()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let stream = TcpStream::from_std(s.into());
    stream_options(&stream, opts)?;
    Ok(stream)
}

/// EINPROGRESS: a non-blocking connect under way.
fn libc_einprogress() -> i32 {
    if cfg!(target_os = "linux") {
        115
    } else {
        36
    }
}

fn stream_options(s: &TcpStream, opts: &DriverOptions) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = socket2::SockRef::from(s);
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
    set_tos(&sock, s.local_addr()?.is_ipv6(), opts.tos)?;
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

#[cfg(target_os = "linux")]
fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    UnixListener::bind_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    UnixStream::connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)
}

#[cfg(not(target_os = "linux"))]
fn bind_abstract(_: &str) -> io::Result<UnixListener> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_: &str) -> io::Result<UnixStream> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
