//! # oxmq-tokio
//!
//! The async front-end for `oxmq-core` on Tokio is not built yet; it comes after the mio
//! front-end and will pass the same conformance suite. This crate has no API today.
#![forbid(unsafe_code)]
