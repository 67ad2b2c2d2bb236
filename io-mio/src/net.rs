//! The operating system's side: streams and listeners over TCP and Unix-domain sockets, with
//! the options libzmq sets on them.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use oxmq_core::endpoint::{Endpoint, IpcAddr, TcpAddr};
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

    /// Reads into memory not yet initialised (`recv(2)`), so that a large read costs no
    /// zeroing first.
    pub(crate) fn read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s).recv(buf),
            Stream::Unix(s) => socket2::SockRef::from(s).recv(buf),
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
            Stream::Tcp(s) => oxmq_net::peer_ip(s.peer_addr()),
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
    Unix(UnixListener, Option<oxmq_net::SocketFile>),
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
                        {
                            let l = UnixListener::bind(p)?;
                            (l, oxmq_net::SocketFile::bound(p), p.clone())
                        }
                    }
                    IpcAddr::Ephemeral => {
                        let p = std::env::temp_dir().join(format!(
                            "oxmq-{}-{}.ipc",
                            std::process::id(),
                            serial
                        ));
                        let shown = p.to_string_lossy().into_owned();
                        (
                            UnixListener::bind(&p)?,
                            oxmq_net::SocketFile::bound(p),
                            shown,
                        )
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
                let _ = oxmq_net::stream_options(&s, opts);
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
        if let Listen::Unix(_, Some(f)) = self {
            f.remove();
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
    oxmq_net::resolve_blocking(addr, bind, ipv6)
}

fn tcp_listener(addr: SocketAddr, opts: &DriverOptions) -> io::Result<TcpListener> {
    Ok(TcpListener::from_std(oxmq_net::tcp_listener(addr, opts)?))
}

fn tcp_connect(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    opts: &DriverOptions,
) -> io::Result<TcpStream> {
    Ok(TcpStream::from_std(oxmq_net::tcp_connect(
        addr, local, opts,
    )?))
}

fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    Ok(UnixListener::from_std(oxmq_net::bind_abstract(name)?))
}

fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    Ok(UnixStream::from_std(oxmq_net::connect_abstract(name)?))
}
