//! The operating system's side on Tokio: streams and listeners over TCP and Unix-domain
//! sockets, made and set up by `oxmq-net` as libzmq sets them (the same code as oxmq-mio's),
//! then handed to Tokio.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, BytesMut};
use oxmq_core::endpoint::{Endpoint, IpcAddr, TcpAddr};
use oxmq_core::DriverOptions;
use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A connected stream.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Reads at most `max` bytes onto the end of `buf`, into its spare capacity in place;
    /// `Pending` (with the task's waker registered) while there is nothing to read.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            let ready = match self {
                Stream::Tcp(s) => s.poll_read_ready(cx),
                Stream::Unix(s) => s.poll_read_ready(cx),
            };
            if let Err(e) = std::task::ready!(ready) {
                return Poll::Ready(Err(e));
            }
            let mut room = (&mut *buf).limit(max);
            let r = match self {
                Stream::Tcp(s) => s.try_read_buf(&mut room),
                Stream::Unix(s) => s.try_read_buf(&mut room),
            };
            match r {
                // The readiness was stale: it is cleared now, so the next look registers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
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

    /// The peer's IP for `Peer-Address` and ZAP (empty over ipc, as in libzmq).
    pub(crate) fn peer_ip(&self) -> String {
        match self {
            Stream::Tcp(s) => oxmq_net::peer_ip(s.peer_addr()),
            Stream::Unix(_) => String::new(),
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
    /// bound. `serial` names an ephemeral IPC file. Must run inside the runtime's context.
    pub(crate) fn open(
        ep: &Endpoint,
        opts: &DriverOptions,
        serial: u64,
    ) -> io::Result<(Listen, String)> {
        match ep {
            Endpoint::Tcp { addr, .. } => {
                let sa = oxmq_net::resolve_blocking(addr, true, opts.ipv6)?;
                let l = TcpListener::from_std(oxmq_net::tcp_listener(sa, opts)?)?;
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
                            "oxmq-tokio-{}-{}.ipc",
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
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        opts: &DriverOptions,
    ) -> Poll<io::Result<Stream>> {
        match self {
            Listen::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| {
                let _ = oxmq_net::stream_options(&s, opts);
                Stream::Tcp(s)
            }),
            Listen::Unix(l, _) => l.poll_accept(cx).map_ok(|(s, _)| Stream::Unix(s)),
        }
    }

    /// Removes the socket file of a Unix listener bound to a path.
    pub(crate) fn remove_file(&self) {
        if let Listen::Unix(_, Some(f)) = self {
            f.remove();
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
                let stream = TcpStream::from_std(oxmq_net::tcp_connect(to, local, &opts)?)?;
                // The connect completes when the socket turns writable; its error, if any,
                // is then pending on the socket.
                stream.writable().await?;
                if let Some(e) = stream.take_error()? {
                    return Err(e);
                }
                stream.peer_addr()?;
                Ok(Stream::Tcp(stream))
            }
            Endpoint::Ipc(IpcAddr::Path(p)) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
            Endpoint::Ipc(IpcAddr::Abstract(name)) => Ok(Stream::Unix(connect_abstract(&name)?)),
            _ => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    })
}

/// For a dial: names resolve on Tokio's blocking pool.
async fn resolve(addr: &TcpAddr, bind: bool, ipv6: bool) -> io::Result<SocketAddr> {
    if let Some(r) = oxmq_net::resolve_literal(addr, bind, ipv6) {
        return r;
    }
    let (name, port) = oxmq_net::name_of(addr).expect("only names need a lookup");
    oxmq_net::pick(tokio::net::lookup_host((name, port)).await?, ipv6)
}

fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    UnixListener::from_std(oxmq_net::bind_abstract(name)?)
}

fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    UnixStream::from_std(oxmq_net::connect_abstract(name)?)
}
