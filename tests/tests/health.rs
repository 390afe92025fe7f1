//! Health, liveness and readiness on every backend.

use serde_json::Value;
use twofa_tests::{Backend, spawn_app};

#[tokio::test]
async fn liveness_answers_alive_on_every_backend() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        let response = app.health_live().await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "alive"}));
        app.stop().await;
    }
}

#[tokio::test]
async fn health_reports_each_configured_dependency_up_on_every_backend() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        let response = app.health().await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "healthy", "{backend:?}");
        assert_eq!(body["version"], twofa::VERSION);
        assert!(body["uptime"].as_u64().is_some());
        assert_eq!(body["checks"]["database"]["status"], "up", "{backend:?}");
        assert!(body["checks"]["database"]["latencyMs"].as_u64().is_some());
        if backend == Backend::PostgresRedis {
            assert_eq!(body["checks"]["redis"]["status"], "up");
        } else {
            assert!(body["checks"].get("redis").is_none(), "{backend:?}: {body}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn readiness_is_ready_when_every_dependency_is_up() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        let response = app.health_ready().await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ready"}));
        app.stop().await;
    }
}
