//! Running the real `twofa` binary: spawn it, find the address it announced, talk HTTP/1.1 to
//! it, stop it with a signal.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support fails loudly"
)]

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

pub const BINARY: &str = env!("CARGO_BIN_EXE_twofa");

pub fn twofa(dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("TWOFA_SERVER__LISTEN", "127.0.0.1:0")
        .env("TWOFA_LOG__FORMAT", "json")
        .stdin(Stdio::null());
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("twofa runs")
}

/// A running `twofa` and the address it announced.
pub struct Running {
    pub child: Child,
    pub address: SocketAddr,
}

impl Running {
    pub fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("twofa starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let address = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .filter(|log| log["fields"]["message"] == "twofa is listening")
                    .and_then(|log| log["fields"]["address"].as_str().map(str::to_owned));
                if let Some(address) = address {
                    let _ = sender.send(address);
                }
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_mins(1))
            .expect("twofa announced its address");
        Self {
            child,
            address: address.parse().expect("a socket address"),
        }
    }

    /// `GET path`: the status code and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, "", None)
    }

    /// `method path` with `headers` (each line ending in CRLF) and a JSON `body`: the status
    /// code and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).expect("connects");
        let body_headers = body.map_or(String::new(), |body| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
        });
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}{body_headers}\r\n{}",
            body.unwrap_or_default()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        (status, body)
    }

    /// Sends SIGTERM and waits for the exit, polling with a deadline.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "twofa did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
