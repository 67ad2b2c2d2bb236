//! The `oxmq` terminal tool. Its commands (send, recv, echo, proxy, monitor, bench) need the
//! socket-level front-end, which does not exist yet; until then the tool says so and fails.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "oxmq {}: no commands yet — send/recv/echo/proxy/monitor arrive with the socket API of oxmq-mio",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
