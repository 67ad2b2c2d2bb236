//! The operating system's side on Tokio: streams and listeners over TCP and Unix-domain
//! sockets. TCP_NODELAY, SO_SNDBUF / SO_RCVBUF, SO_KEEPALIVE and the listen backlog are set as
//! libzmq sets them; the keepalive timers, TOS, TCP_MAXRT and BINDTODEVICE are not applied by
//! this shell yet.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use oxmq_core::endpoint::{Endpoint, Host, IpcAddr, Port, TcpAddr};
use oxmq_core::DriverOptions;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

/// A connected stream.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        let r = match self {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, &mut rb),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, &mut rb),
        };
        r.map_ok(|()| rb.filled().len())
    }

    pub(crate) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    /// Writes what the socket takes now, without waiting: a closing connection's last bytes.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write(buf),
            Stream::Unix(s) => s.try_write(buf),
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
    /// bound. `serial` names an ephemeral IPC file. Must run inside the runtime's context.
    pub(crate) fn open(
        ep: &Endpoint,
        opts: &DriverOptions,
        serial: u64,
    ) -> io::Result<(Listen, String)> {
        match ep {
            Endpoint::Tcp { addr, .. } => {
                let sa = resolve_now(addr, true, opts.ipv6)?;
                let s = tcp_socket(sa, opts)?;
                s.set_reuseaddr(true)?;
                s.bind(sa)?;
                let l = s.listen(opts.backlog)?;
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
                            "oxmq-tokio-{}-{}.ipc",
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
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        opts: &DriverOptions,
    ) -> Poll<io::Result<Stream>> {
        match self {
            Listen::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| {
                let _ = stream_options(&s, opts);
                Stream::Tcp(s)
            }),
            Listen::Unix(l, _) => l.poll_accept(cx).map_ok(|(s, _)| Stream::Unix(s)),
        }
    }

    /// Removes the socket file of a Unix listener bound to a path.
    pub(crate) fn remove_file(&self) {
        if let Listen::Unix(_, Some(p)) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Connects to `ep` (not inproc).
pub(crate) fn dial(
    ep: Endpoint,
    opts: DriverOptions,
) -> Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>> {
    Box::pin(async move {
        match ep {
            Endpoint::Tcp { addr, source } => {
                let local = match source {
                    Some(src) => Some(resolve(&src, true, opts.ipv6).await?),
                    None => None,
                };
                let to = resolve(&addr, false, opts.ipv6).await?;
                let s = tcp_socket(to, &opts)?;
                if let Some(local) = local {
                    s.bind(local)?;
                }
                let stream = s.connect(to).await?;
                stream_options(&stream, &opts)?;
                Ok(Stream::Tcp(stream))
            }
            Endpoint::Ipc(IpcAddr::Path(p)) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
            Endpoint::Ipc(IpcAddr::Abstract(name)) => Ok(Stream::Unix(connect_abstract(&name)?)),
            _ => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    })
}

fn port(addr: &TcpAddr) -> u16 {
    match addr.port {
        Port::Number(p) => p,
        Port::Ephemeral => 0,
    }
}

/// Resolves an address that needs no name lookup, or fails.
fn resolve_literal(addr: &TcpAddr, bind: bool, ipv6: bool) -> Option<io::Result<SocketAddr>> {
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

/// For a bind, which happens inside the application's call: names resolve at once.
fn resolve_now(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    if let Some(r) = resolve_literal(addr, bind, ipv6) {
        return r;
    }
    let Host::Name(n) = &addr.host else {
        unreachable!("only names need a lookup");
    };
    use std::net::ToSocketAddrs;
    (n.as_str(), port(addr))
        .to_socket_addrs()?
        .find(|a| ipv6 || a.is_ipv4())
        .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))
}

/// For a dial: names resolve on Tokio's blocking pool. Without ZMQ_IPV6, names resolve to
/// IPv4 addresses only, as in libzmq.
async fn resolve(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    if let Some(r) = resolve_literal(addr, bind, ipv6) {
        return r;
    }
    let Host::Name(n) = &addr.host else {
        unreachable!("only names need a lookup");
    };
    tokio::net::lookup_host((n.as_str(), port(addr)))
        .await?
        .find(|a| ipv6 || a.is_ipv4())
        .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))
}

fn tcp_socket(addr: SocketAddr, opts: &DriverOptions) -> io::Result<TcpSocket> {
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(n) = opts.send_buffer {
        s.set_send_buffer_size(u32::try_from(n).unwrap_or(u32::MAX))?;
    }
    if let Some(n) = opts.recv_buffer {
        s.set_recv_buffer_size(u32::try_from(n).unwrap_or(u32::MAX))?;
    }
    if let Some(on) = opts.keepalive {
        s.set_keepalive(on)?;
    }
    Ok(s)
}

fn stream_options(s: &TcpStream, _opts: &DriverOptions) -> io::Result<()> {
    s.set_nodelay(true)
}

#[cfg(target_os = "linux")]
fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    let l = std::os::unix::net::UnixListener::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(name)?,
    )?;
    l.set_nonblocking(true)?;
    UnixListener::from_std(l)
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    let s = std::os::unix::net::UnixStream::connect_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(name)?,
    )?;
    s.set_nonblocking(true)?;
    UnixStream::from_std(s)
}

#[cfg(not(target_os = "linux"))]
fn bind_abstract(_: &str) -> io::Result<UnixListener> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_: &str) -> io::Result<UnixStream> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
