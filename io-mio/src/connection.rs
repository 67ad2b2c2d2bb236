//! One ZMTP engine over one TCP stream, driven by a mio poll loop on the caller's thread.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use oxmq_core::engine::SendError;
use oxmq_core::{ConnectionError, Engine, EngineConfig, Event, Instant, Message, PeerInfo};

const STREAM: Token = Token(0);
/// How much the read buffer grows by before each read.
const READ_CHUNK: usize = 64 * 1024;

/// Why a driver call failed.
#[derive(Debug)]
pub enum DriverError {
    /// The operating system refused an operation.
    Io(io::Error),
    /// The ZMTP connection ended; the engine says why.
    Connection(ConnectionError),
    /// Nothing happened within the time allowed.
    Timeout,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Io(e) => write!(f, "I/O error: {e}"),
            DriverError::Connection(e) => write!(f, "connection ended: {e}"),
            DriverError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for DriverError {}

impl From<io::Error> for DriverError {
    fn from(e: io::Error) -> Self {
        DriverError::Io(e)
    }
}

/// A ZMTP connection: an [`Engine`] on a non-blocking TCP stream.
pub struct Connection {
    poll: Poll,
    events: Events,
    stream: TcpStream,
    engine: Engine,
    epoch: StdInstant,
    peer: Option<PeerInfo>,
    inbox: VecDeque<Message>,
    subscriptions: VecDeque<(bool, Bytes)>,
    ended: Option<ConnectionError>,
}

impl Connection {
    /// Dials `addr` and starts the ZMTP greeting.
    pub fn connect(addr: SocketAddr, config: EngineConfig) -> io::Result<Connection> {
        let stream = std::net::TcpStream::connect(addr)?;
        Connection::from_std(stream, config)
    }

    /// Accepts one connection on `listener` (blocking) and starts the ZMTP greeting.
    pub fn accept(
        listener: &std::net::TcpListener,
        config: EngineConfig,
    ) -> io::Result<Connection> {
        let (stream, _) = listener.accept()?;
        Connection::from_std(stream, config)
    }

    /// Runs ZMTP over an already connected stream.
    pub fn from_std(stream: std::net::TcpStream, config: EngineConfig) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut stream, STREAM, Interest::READABLE | Interest::WRITABLE)?;
        let epoch = StdInstant::now();
        Ok(Connection {
            poll,
            events: Events::with_capacity(16),
            stream,
            engine: Engine::new(config, Instant::ZERO),
            epoch,
            peer: None,
            inbox: VecDeque::new(),
            subscriptions: VecDeque::new(),
            ended: None,
        })
    }

    /// The engine, for its counters and state.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the peer told us in its handshake, once it is done.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// Waits until the handshake completes.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<&PeerInfo, DriverError> {
        let deadline = StdInstant::now() + timeout;
        while self.peer.is_none() {
            self.run_once(Some(deadline))?;
        }
        Ok(self
            .peer
            .as_ref()
            .expect("loop ends only once the peer is known"))
    }

    /// Queues a whole message and writes as much as the socket takes now.
    pub fn send(&mut self, msg: &Message) -> Result<(), DriverError> {
        match self.engine.send(msg) {
            Ok(()) => {}
            Err(SendError::NotReady) => {
                self.wait_ready(Duration::from_secs(30))?;
                self.engine.send(msg).map_err(|_| self.ended_error())?;
            }
            Err(SendError::Closed) => return Err(self.ended_error()),
        }
        self.flush()?;
        Ok(())
    }

    /// Sends a SUBSCRIBE (or its ZMTP 3.0 form) for `topic`.
    pub fn subscribe(&mut self, topic: &[u8]) -> Result<(), DriverError> {
        if !self.engine.is_ready() {
            self.wait_ready(Duration::from_secs(30))?;
        }
        self.engine
            .send_subscribe(topic)
            .map_err(|_| self.ended_error())?;
        self.flush()?;
        Ok(())
    }

    /// Waits for the next whole message.
    pub fn recv(&mut self, timeout: Duration) -> Result<Message, DriverError> {
        let deadline = StdInstant::now() + timeout;
        loop {
            if let Some(m) = self.inbox.pop_front() {
                return Ok(m);
            }
            self.run_once(Some(deadline))?;
        }
    }

    /// Waits for the next SUBSCRIBE (`true`) or CANCEL (`false`) command from the peer.
    pub fn recv_subscription(&mut self, timeout: Duration) -> Result<(bool, Bytes), DriverError> {
        let deadline = StdInstant::now() + timeout;
        loop {
            if let Some(s) = self.subscriptions.pop_front() {
                return Ok(s);
            }
            self.run_once(Some(deadline))?;
        }
    }

    /// Runs the loop until `done` holds for this connection or `timeout` passes.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Connection) -> bool,
    ) -> Result<(), DriverError> {
        let deadline = StdInstant::now() + timeout;
        while !done(self) {
            self.run_once(Some(deadline))?;
        }
        Ok(())
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn ended_error(&self) -> DriverError {
        match &self.ended {
            Some(e) => DriverError::Connection(e.clone()),
            None => DriverError::Connection(ConnectionError::PeerClosed),
        }
    }

    /// One turn of the loop: wait for readiness or a timer, then feed the engine.
    fn run_once(&mut self, deadline: Option<StdInstant>) -> Result<(), DriverError> {
        if self.ended.is_some() {
            return Err(self.ended_error());
        }
        let now = StdInstant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(DriverError::Timeout);
        }
        let timer = self
            .engine
            .poll_timeout()
            .map(|t| self.epoch + Duration::from_nanos(t.as_nanos()));
        let wake = [deadline, timer].into_iter().flatten().min();
        let wait = wake.map(|w| w.saturating_duration_since(now));
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        // Edge-triggered: read and write until the socket would block, whatever woke us.
        self.read()?;
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now()) {
            self.engine.handle_timeout(self.now());
        }
        self.drain_events();
        self.flush()?;
        if self.ended.is_some() {
            return Err(self.ended_error());
        }
        Ok(())
    }

    fn read(&mut self) -> Result<(), DriverError> {
        loop {
            let buf = self.engine.read_buffer();
            let len = buf.len();
            buf.resize(len + READ_CHUNK, 0);
            let result = self.stream.read(&mut buf[len..]);
            let n = match &result {
                Ok(n) => *n,
                Err(_) => 0,
            };
            buf.truncate(len + n);
            match result {
                Ok(0) => {
                    self.engine.handle_eof(self.now());
                    return Ok(());
                }
                Ok(_) => self.engine.handle_read(self.now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::HandshakeSucceeded(peer) => self.peer = Some(*peer),
                Event::Message(m) => self.inbox.push_back(m),
                Event::Subscribe(t) => self.subscriptions.push_back((true, t)),
                Event::Cancel(t) => self.subscriptions.push_back((false, t)),
                Event::Closed(e) => self.ended = Some(e),
                // Only a ZAP handler's 300 does this, and this driver has none.
                Event::HandshakeFailed(_) => {}
                // This driver has no ZAP handler to ask: answer as a failed handler would.
                Event::ZapRequest(_) => {
                    let now = self.now();
                    self.engine
                        .handle_zap_reply(oxmq_core::mechanism::ZapReply::deny(500), now);
                }
            }
        }
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        while self.engine.pending_transmit() > 0 {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = self.engine.transmit_slices(&mut slices);
            match self.stream.write_vectored(&slices[..n]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(written) => self.engine.advance_transmit(written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
