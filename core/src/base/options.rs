//! Options on the socket base: every [`SocketOption`] goes in here, and is kept by whichever
//! part acts on it — [`BaseConfig`] (lifecycle), [`DriverOptions`] (timeouts, TCP), or the
//! pattern [`Socket`](crate::socket::Socket).

use std::time::Duration;

use super::{BaseConfig, SocketBase, SocketHalf};
use crate::options::{
    millis, millis_at_least_zero, millis_or_forever, millis_or_minus_one, DriverOptions,
    OptionError, SocketOption, SocketOptionName, POLLIN, POLLOUT,
};
use crate::socket::SendErrorKind;
use crate::socket_type::SocketType;
use crate::time::Instant;
use crate::tree::Linger;

/// The largest ZMQ_HEARTBEAT_TTL: PING carries it in 16 bits of deciseconds.
const MAX_HEARTBEAT_TTL_MS: i32 = u16::MAX as i32 * 100 + 99;

impl BaseConfig {
    /// libzmq's defaults for a socket of `kind`: those of [`BaseConfig::default`], except
    /// that SUB and XSUB start with LINGER 0, as libzmq's do (all they could leave unsent on
    /// close are subscriptions).
    pub fn for_socket_type(kind: SocketType) -> BaseConfig {
        let mut c = BaseConfig::default();
        if matches!(kind, SocketType::Sub | SocketType::XSub) {
            c.linger = Linger::For(Duration::ZERO);
        }
        c
    }

    /// Takes `opt` if it is a lifecycle option; `Ok(false)` if it is not.
    pub fn set_option(&mut self, opt: &SocketOption) -> Result<bool, OptionError> {
        use SocketOption as O;
        match *opt {
            O::Linger(ms) => {
                self.linger = match millis_or_forever(ms)? {
                    None => Linger::Forever,
                    Some(d) => Linger::For(d),
                }
            }
            O::ReconnectIvl(ms) => self.reconnect_ivl = millis_or_forever(ms)?,
            O::ReconnectIvlMax(ms) => self.reconnect_ivl_max = millis_at_least_zero(ms)?,
            O::Immediate(v) => self.immediate = v,
            O::HandshakeIvl(ms) => self.handshake_ivl = millis_at_least_zero(ms)?,
            O::HeartbeatIvl(ms) => self.heartbeat_ivl = millis_at_least_zero(ms)?,
            O::HeartbeatTimeout(ms) => self.heartbeat_timeout = millis_or_forever(ms)?,
            O::HeartbeatTtl(ms) => {
                if !(0..=MAX_HEARTBEAT_TTL_MS).contains(&ms) {
                    return Err(OptionError::InvalidValue);
                }
                // Kept as PING will carry it, in whole deciseconds (as libzmq stores it).
                self.heartbeat_ttl = Duration::from_millis(ms as u64 / 100 * 100);
            }
            // libzmq takes any value; a negative one means no limit.
            O::MaxMsgSize(n) => self.max_msg_size = u64::try_from(n).ok(),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The value of lifecycle option `name`; `None` if it is not one.
    pub fn get_option(&self, name: SocketOptionName) -> Option<SocketOption> {
        use SocketOption as O;
        use SocketOptionName as N;
        Some(match name {
            N::Linger => O::Linger(match self.linger {
                Linger::Forever => -1,
                Linger::For(d) => millis(d),
            }),
            N::ReconnectIvl => O::ReconnectIvl(millis_or_minus_one(self.reconnect_ivl)),
            N::ReconnectIvlMax => O::ReconnectIvlMax(millis(self.reconnect_ivl_max)),
            N::Immediate => O::Immediate(self.immediate),
            N::HandshakeIvl => O::HandshakeIvl(millis(self.handshake_ivl)),
            N::HeartbeatIvl => O::HeartbeatIvl(millis(self.heartbeat_ivl)),
            N::HeartbeatTimeout => O::HeartbeatTimeout(millis_or_minus_one(self.heartbeat_timeout)),
            N::HeartbeatTtl => O::HeartbeatTtl(millis(self.heartbeat_ttl)),
            N::MaxMsgSize => O::MaxMsgSize(
                self.max_msg_size
                    .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            ),
            _ => return None,
        })
    }
}

impl SocketHalf {
    /// Sets any option (libzmq's `zmq_setsockopt`). Lifecycle options apply to connections
    /// made from now on (LINGER at once); pattern options at once, passing on what they
    /// queued for the peers (subscriptions); driver options whenever the driver next reads
    /// [`SocketHalf::driver_options`].
    pub fn set_option(&mut self, opt: SocketOption, now: Instant) -> Result<(), OptionError> {
        let name = opt.name();
        if name.is_read_only() {
            return Err(OptionError::ReadOnly(name));
        }
        let mut config = self.config().clone();
        if config.set_option(&opt)? {
            self.set_config(config);
            return Ok(());
        }
        if self.driver.set(&opt)? {
            return Ok(());
        }
        let r = self.socket_mut().set_option(opt);
        self.pump(now);
        r
    }

    /// Reads any option back (libzmq's `zmq_getsockopt`), the read-only ones included. The
    /// core deals in whole messages, so RCVMORE is always false here: a driver that hands
    /// messages out frame by frame answers it itself, and adds what it buffers to EVENTS.
    pub fn get_option(&mut self, name: SocketOptionName) -> Result<SocketOption, OptionError> {
        use SocketOption as O;
        use SocketOptionName as N;
        if let Some(v) = self
            .config()
            .get_option(name)
            .or_else(|| self.driver.get(name))
        {
            return Ok(v);
        }
        Ok(match name {
            N::Events => {
                let (r, w) = self.readiness();
                O::Events((u8::from(r) * POLLIN) | (u8::from(w) * POLLOUT))
            }
            N::RcvMore => O::RcvMore(false),
            N::LastEndpoint => O::LastEndpoint(self.last_endpoint().unwrap_or_default().to_owned()),
            N::ThreadSafe => O::ThreadSafe(false),
            n => return self.socket().get_option(n),
        })
    }

    /// Where this socket's connections draw randomness from (CURVE's keys and nonces): the
    /// driver's CSPRNG, or the simulator's seeded streams. Applies to connections made from
    /// now on.
    pub fn set_random_source(&mut self, random: crate::rng::RandomSource) {
        self.driver.security.random = Some(random);
    }

    /// Where this socket's CURVE connections take X25519 and XSalsa20-Poly1305 from: a
    /// [`CurveCrypto`](crate::mechanism::curve::CurveCrypto) provider such as libsodium's
    /// (the `oxmq-sodium` crate). RustCrypto's until set. Applies to connections made from
    /// now on.
    #[cfg(feature = "curve")]
    pub fn set_curve_crypto(&mut self, crypto: &'static dyn crate::mechanism::curve::CurveCrypto) {
        self.driver.security.curve_crypto = Some(crypto);
    }

    /// Whether the driver answers ZAP requests (RFC 27, see
    /// [`Session::poll_zap_request`](crate::session::Session::poll_zap_request)). Without a
    /// handler libzmq's rules hold: NULL and CURVE servers let peers in, PLAIN servers refuse
    /// them. Applies to connections made from now on.
    pub fn set_zap_handler(&mut self, present: bool) {
        self.driver.security.zap_handler = present;
    }

    /// The options the driver applies: timeouts for its blocking calls, settings for the
    /// streams and listeners it opens for this socket.
    pub fn driver_options(&self) -> &DriverOptions {
        &self.driver
    }

    /// Whether a message starting with frame `first` may be started now (see
    /// [`Socket::check_send_start`](crate::socket::Socket::check_send_start)); `Terminated`
    /// once the socket is closing.
    pub fn check_send_start(&mut self, first: &[u8]) -> Result<(), SendErrorKind> {
        if self.is_closing() {
            return Err(SendErrorKind::Terminated);
        }
        self.socket_mut().check_send_start(first)
    }
}

impl SocketBase {
    /// Sets any option (libzmq's `zmq_setsockopt`): see [`SocketHalf::set_option`].
    pub fn set_option(&mut self, opt: SocketOption, now: Instant) -> Result<(), OptionError> {
        let r = self.half.set_option(opt, now);
        self.pump(now);
        r
    }

    /// Reads any option back (libzmq's `zmq_getsockopt`): see [`SocketHalf::get_option`].
    pub fn get_option(&mut self, name: SocketOptionName) -> Result<SocketOption, OptionError> {
        self.half.get_option(name)
    }

    /// Where this socket's connections draw randomness from: see
    /// [`SocketHalf::set_random_source`].
    pub fn set_random_source(&mut self, random: crate::rng::RandomSource) {
        self.half.set_random_source(random);
    }

    /// Where this socket's CURVE connections take their crypto from: see
    /// [`SocketHalf::set_curve_crypto`].
    #[cfg(feature = "curve")]
    pub fn set_curve_crypto(&mut self, crypto: &'static dyn crate::mechanism::curve::CurveCrypto) {
        self.half.set_curve_crypto(crypto);
    }

    /// Whether the driver answers ZAP requests: see [`SocketHalf::set_zap_handler`]; the
    /// requests come from [`SocketBase::poll_zap_request`].
    pub fn set_zap_handler(&mut self, present: bool) {
        self.half.set_zap_handler(present);
    }

    /// The options the driver applies: timeouts for its blocking calls, settings for the
    /// streams and listeners it opens for this socket.
    pub fn driver_options(&self) -> &DriverOptions {
        self.half.driver_options()
    }

    /// Whether a message starting with frame `first` may be started now: see
    /// [`SocketHalf::check_send_start`].
    pub fn check_send_start(&mut self, first: &[u8]) -> Result<(), SendErrorKind> {
        self.half.check_send_start(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_options_read_back_what_was_set() {
        let mut c = BaseConfig::default();
        for opt in [
            SocketOption::Linger(0),
            SocketOption::Linger(-1),
            SocketOption::Linger(1500),
            SocketOption::ReconnectIvl(-1),
            SocketOption::ReconnectIvl(250),
            SocketOption::ReconnectIvlMax(4000),
            SocketOption::Immediate(true),
            SocketOption::HandshakeIvl(0),
            SocketOption::HeartbeatIvl(500),
            SocketOption::HeartbeatTimeout(2000),
            SocketOption::HeartbeatTimeout(-1),
            SocketOption::HeartbeatTtl(6_553_500),
            SocketOption::MaxMsgSize(4096),
            SocketOption::MaxMsgSize(-1),
        ] {
            assert_eq!(c.set_option(&opt), Ok(true), "{opt:?}");
            assert_eq!(c.get_option(opt.name()), Some(opt));
        }
    }

    #[test]
    fn heartbeat_ttl_is_kept_in_deciseconds_as_libzmq_keeps_it() {
        let mut c = BaseConfig::default();
        c.set_option(&SocketOption::HeartbeatTtl(1234)).unwrap();
        assert_eq!(
            c.get_option(SocketOptionName::HeartbeatTtl),
            Some(SocketOption::HeartbeatTtl(1200))
        );
        assert_eq!(
            c.set_option(&SocketOption::HeartbeatTtl(MAX_HEARTBEAT_TTL_MS + 1)),
            Err(OptionError::InvalidValue)
        );
    }

    #[test]
    fn lifecycle_options_refuse_what_libzmq_refuses() {
        let mut c = BaseConfig::default();
        for opt in [
            SocketOption::Linger(-2),
            SocketOption::ReconnectIvl(-2),
            SocketOption::ReconnectIvlMax(-1),
            SocketOption::HandshakeIvl(-1),
            SocketOption::HeartbeatIvl(-1),
            SocketOption::HeartbeatTtl(-1),
        ] {
            assert_eq!(
                c.set_option(&opt),
                Err(OptionError::InvalidValue),
                "{opt:?}"
            );
        }
    }
}
