//! `twofa`: see `twofa --help`.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // reqwest and other TLS clients are built on rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    twofa::cli::Cli::parse().run()
}
