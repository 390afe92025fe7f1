//! Redis going away and coming back under a running `--mode api` over PostgreSQL and Redis.

use std::time::Duration;

use serde_json::Value;
use twofa::Mode;
use twofa_tests::{AppOptions, Backend, RedisServer, eventually, spawn_app_with};

#[tokio::test]
async fn stopping_redis_turns_readiness_to_503_and_restarting_it_recovers_without_a_restart() {
    let mut redis = RedisServer::start().await;
    let app = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Api)
            .set("redis.url", redis.url())
            .set("redis.timeout", "500ms"),
    )
    .await;
    let health: Value = app.health().await.json().await.unwrap();
    assert_eq!(health["checks"]["database"]["status"], "up");
    assert_eq!(health["checks"]["redis"]["status"], "up");
    assert_eq!(app.health_ready().await.status(), 200);

    redis.stop();

    let ready = app.health_ready().await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["redis"]["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "up");
    let health = app.health().await;
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(
        app.health_live().await.status(),
        200,
        "the process is still alive"
    );

    redis.resume().await;

    let recovered = eventually(Duration::from_secs(15), || async {
        app.health_ready().await.status() == 200
    })
    .await;
    assert!(recovered, "readiness did not recover after Redis came back");
    let health: Value = app.health().await.json().await.unwrap();
    assert_eq!(health["status"], "healthy");
    app.stop().await;
}

#[tokio::test]
async fn the_api_starts_while_redis_is_down_and_reports_not_ready() {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    redis.stop();
    let app = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Api)
            .set("redis.url", url)
            .set("redis.timeout", "500ms"),
    )
    .await;
    assert_eq!(app.health_ready().await.status(), 503);
    redis.resume().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        app.health_ready().await.status() == 200
    })
    .await;
    assert!(recovered);
    app.stop().await;
}
