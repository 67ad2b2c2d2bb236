//! Security mechanisms: the handshake that runs after the greeting and ends with both sides'
//! metadata. NULL is here; PLAIN, CURVE and ZAP requests plug in behind the same trait.

mod null;

pub use null::NullMechanism;

use crate::codec::{Command, MechanismName, Metadata};
use crate::error::ConnectionError;

/// Which mechanism a connection uses, and its settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MechanismConfig {
    /// No security (RFC 23 §"The NULL Security Mechanism").
    #[default]
    Null,
}

impl MechanismConfig {
    /// The name this mechanism announces in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            MechanismConfig::Null => MechanismName::NULL,
        }
    }

    /// A fresh handshake for one connection; `ours` is the metadata we announce.
    pub(crate) fn start(&self, ours: Metadata) -> Box<dyn Mechanism + Send> {
        match self {
            MechanismConfig::Null => Box::new(NullMechanism::new(ours)),
        }
    }
}

/// One side of a mechanism's handshake, fed the peer's commands.
pub(crate) trait Mechanism {
    /// Commands to send as soon as the greetings are exchanged.
    fn start(&mut self, out: &mut Vec<Command>);
    /// Handles one command from the peer, queueing any replies in `out`. Returns the peer's
    /// metadata once the handshake is complete, `None` while it goes on.
    fn handle_command(
        &mut self,
        cmd: Command,
        out: &mut Vec<Command>,
    ) -> Result<Option<Metadata>, ConnectionError>;
}
