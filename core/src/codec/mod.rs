//! The ZMTP 3.x wire format (RFC 23, RFC 37): greeting, frames, commands, and the incremental
//! decoder and batching encoder built on them.

pub mod command;
pub mod decoder;
pub mod encoder;
pub mod frame;
pub mod greeting;

pub use command::{Command, Metadata};
pub use decoder::{Decoded, FrameDecoder};
pub use encoder::Encoder;
pub use frame::WireFrame;
pub use greeting::{Greeting, MechanismName, ZmtpVersion};
