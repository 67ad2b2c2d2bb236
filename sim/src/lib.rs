//! # oxmq-sim
//!
//! A seeded, deterministic network simulator for `oxmq-core`. One `u64` seed decides
//! everything: the workload (which ZeroMQ pattern, how many peers, which socket options), the
//! network (latency, bandwidth, where writes split), and the faults (crashes, partitions,
//! resets, refused connections). A run injects faults, heals the network, then checks that
//! the system converges; oracles check what ZeroMQ promises all along.
//!
//! - [`world`]: the virtual clock (it jumps to the next event; ties break on a sequence
//!   number), hosts running `SocketBase`s, and TCP-like byte streams with per-link latency and
//!   bandwidth, writes cut at random offsets, a send window per direction (so a reader that
//!   falls behind pushes back to the writer), refused accepts, resets, partitions that hold
//!   bytes until they heal, and crashes (loud: RST; or silent: peers learn by writing).
//! - [`profile`]: what a seed draws (swarm testing: each fault on or off, and how hard).
//! - [`workload`]: PUSH/PULL pipeline, PUB/SUB with a late joiner, REQ/REP, DEALER/ROUTER,
//!   PAIR, with socket options varied per seed, and features layered on them per seed:
//!   CONFLATE receivers, inproc between peers on one host (through per-socket mailboxes),
//!   an XSUB/XPUB proxy in the middle of PUB/SUB, DEALERs with PROBE_ROUTER, SNDHWM/RCVHWM
//!   changed on live sockets, and applications that stop receiving for a while; and beside
//!   the pattern, on hosts of their own, STREAM peers exchanging raw byte streams.
//! - [`oracle`]: safety on every receive (multipart intact, no duplicates, order per pipe,
//!   no unsubscribed topic, REQ takes replies only from the peer it last asked, ROUTER ids,
//!   HWM bounds, inproc pipes within SNDHWM + RCVHWM, one PROBE_ROUTER probe per connection
//!   and first, a proxy's XSUB gets only subscribed topics), on every send (block at HWM
//!   and never drop, or drop and never block; host-unreachable under ROUTER_MANDATORY),
//!   fairness of load-balancing and fair-queueing, no bytes after LINGER ran out (after a
//!   close, and on the connections a disconnect ended), a socket
//!   whose application stopped receiving reads only what its RCVHWM lets in; and liveness
//!   after healing (probes arrive within a bound, a conflating receiver ends with each
//!   sender's newest message, LINGER delivers what it protects, after a close or a
//!   disconnect, closes finish within
//!   LINGER). STREAM: each connection's bytes arrive in order under one routing id, framed
//!   by its connect and disconnect notices, an empty body closes a connection, unknown ids
//!   are unreachable, and after healing bytes flow both ways and a closed client reconnects.
//! - [`security`] (with `--security`): each seed draws NULL, NULL with a ZAP handler, PLAIN
//!   or CURVE (with or without a handler), credentials and keys from seeded streams, a ZAP
//!   handler that answers after a drawn delay (now and then 300) and denies by a rule on
//!   the credentials, and impostors with wrong passwords or keys. The oracles check that no
//!   message from or to a refused peer reaches an application, that the handler's User-Id
//!   and properties reach every message from an accepted peer, that a refused handshake
//!   raises the monitor event libzmq raises (and a refused client never redials), and that
//!   on CURVE connections no message's plaintext appears on the wire.
//! - [`run`]: the phases — faults, heal and settle, probe, quiet, linger, shutdown (each
//!   host's context terminating after its sockets closed) — and the report.
//! - [`rng`], [`trace`]: one ChaCha stream per component, and the hashed trace.
//!
//! ```
//! let report = oxmq_sim::run_seed(&oxmq_sim::RunOptions::new(7));
//! assert!(report.failure.is_none(), "{report}");
//! // The same seed gives the same run, event for event.
//! assert_eq!(report.hash, oxmq_sim::run_seed(&oxmq_sim::RunOptions::new(7)).hash);
//! ```
#![forbid(unsafe_code)]

pub mod msg;
pub mod oracle;
pub mod profile;
pub mod rng;
pub mod run;
pub mod security;
pub mod trace;
pub mod workload;
pub mod world;

pub use oracle::{Failure, FailureKind};
pub use profile::Profile;
pub use run::{run_seed, Report, RunOptions};
pub use world::Mutation;
