//! `twofa`: see `twofa --help`.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc, not glibc's malloc: a request allocates and frees many small buffers across the
/// runtime's threads, and glibc's malloc took a fifth of the verify path's CPU (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // reqwest and other TLS clients are built on rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    twofa::cli::Cli::parse().run()
}
