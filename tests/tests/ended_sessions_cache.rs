//! A change that ends a session is not answered as done while an instance may still serve the
//! session from the shared cache as live (SECURITY.md): over PostgreSQL and a Redis that
//! answers reads but refuses writes (a replica whose primary is gone).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test steps fail by panicking at the step that broke"
)]

use std::fmt::Write as _;

use twofa::Mode;
use twofa_tests::{AppOptions, Backend, RedisServer, spawn_app_with};

/// Sends one command to the Redis at `port` and returns its raw answer.
async fn redis_command(port: u16, args: &[&str]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("redis answers");
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        write!(command, "${}\r\n{arg}\r\n", arg.len()).unwrap();
    }
    stream.write_all(command.as_bytes()).await.unwrap();
    let mut answer = vec![0; 256];
    let read = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_logout_redis_cannot_record_answers_503_and_its_retry_ends_the_session() {
    let redis = RedisServer::start().await;
    let port = port_of(&redis.url());
    let app = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Api)
            .set("redis.url", redis.url())
            .set("redis.timeout", "500ms"),
    )
    .await;
    let jane = app.signed_up("jane").await;
    // The first request caches the session as live in Redis.
    assert_eq!(app.me(&jane.access_token).await.status(), 200);

    // A replica of a primary that is not there: reads still answer, writes are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let answer = redis_command(port, &["REPLICAOF", "127.0.0.1", &closed.to_string()]).await;
    assert!(answer.starts_with("+OK"), "{answer}");

    let logout = app.logout(&jane.refresh_token).await;
    assert_eq!(logout.status(), 503, "not answered as done");
    assert_eq!(logout.headers()["content-type"], "application/problem+json");
    // Nothing changed: the session is as live in the database as in the cache.
    assert_eq!(app.me(&jane.access_token).await.status(), 200);

    let answer = redis_command(port, &["REPLICAOF", "NO", "ONE"]).await;
    assert!(answer.starts_with("+OK"), "{answer}");
    assert_eq!(app.logout(&jane.refresh_token).await.status(), 204);
    assert_eq!(app.me(&jane.access_token).await.status(), 401);
    app.allow_leftover_jobs();
    app.stop().await;
}
