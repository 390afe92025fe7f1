//! `GET /api/health`, `/api/health/live`, `/api/health/ready`. These answer in their own
//! shapes (not as problems), 503 included, so orchestrators and dashboards read one format.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};
use twofa_application::{DependencyHealth, HealthReport, HealthStatus, QueueHealth};

use crate::{api::ApiTags, state::AppState};

/// The health routes.
pub struct HealthApi;

/// Overall state of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum OverallStatus {
    /// Everything is up.
    Healthy,
    /// Up, but with work piling up.
    Degraded,
    /// The database or Redis is down.
    Unhealthy,
}

/// One dependency's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It answered.
    Up,
    /// It did not answer in time, or answered with an error.
    Down,
}

/// One dependency check.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Check {
    /// Up or down.
    pub status: CheckStatus,
    /// Round-trip time in milliseconds, when up.
    #[oai(skip_serializing_if_is_none)]
    pub latency_ms: Option<u64>,
}

/// The job queue: whether its store answers, and its depth.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueCheck {
    /// Up or down.
    pub status: CheckStatus,
    /// Time to read the counts, in milliseconds, when up.
    #[oai(skip_serializing_if_is_none)]
    pub latency_ms: Option<u64>,
    /// Jobs waiting to run.
    pub pending: u64,
    /// Jobs in the dead letter (retries spent, or failed permanently).
    pub failed: u64,
}

/// Every dependency check.
#[derive(Debug, Clone, Object)]
pub struct Checks {
    /// The database (PostgreSQL, SQLite, or the in-process store).
    pub database: Check,
    /// Redis, when `redis.url` is set.
    #[oai(skip_serializing_if_is_none)]
    pub redis: Option<Check>,
    /// The job queue (`jobs.backend`).
    #[oai(skip_serializing_if_is_none)]
    pub queue: Option<QueueCheck>,
}

/// `GET /api/health`.
#[derive(Debug, Clone, Object)]
pub struct Health {
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: OverallStatus,
    /// The running version.
    pub version: String,
    /// Whole seconds since this process started.
    pub uptime: u64,
    /// Each dependency.
    pub checks: Checks,
}

/// `healthy` or `degraded` (200), `unhealthy` (503).
#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service is up (possibly degraded).
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database or Redis is down.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

/// Liveness state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum LiveStatus {
    /// The process answers.
    Alive,
}

/// `GET /api/health/live`.
#[derive(Debug, Clone, Object)]
pub struct Liveness {
    /// Always `alive`.
    pub status: LiveStatus,
}

/// Readiness state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Every dependency is up: send traffic.
    Ready,
    /// A dependency is down: send traffic elsewhere.
    NotReady,
}

/// `GET /api/health/ready`.
#[derive(Debug, Clone, Object)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: ReadyStatus,
    /// Each dependency, when not ready.
    #[oai(skip_serializing_if_is_none)]
    pub checks: Option<Checks>,
}

/// 200 ready, 503 not ready.
#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Every dependency is up.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A dependency is down.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Service health with each dependency's state.
    #[oai(path = "/api/health", method = "get", operation_id = "getHealth")]
    async fn health(&self, state: Data<&Arc<AppState>>) -> HealthResponse {
        let report = state.check_health.execute().await;
        let uptime = (state.clock.now() - state.started_at).num_seconds();
        let body = Health {
            status: match report.status() {
                HealthStatus::Healthy => OverallStatus::Healthy,
                HealthStatus::Degraded => OverallStatus::Degraded,
                HealthStatus::Unhealthy => OverallStatus::Unhealthy,
            },
            version: state.version.to_owned(),
            uptime: u64::try_from(uptime).unwrap_or(0),
            checks: checks(&report),
        };
        if report.is_healthy() {
            HealthResponse::Ok(Json(body))
        } else {
            HealthResponse::Unavailable(Json(body))
        }
    }

    /// Liveness: the process answers HTTP. Checks no dependency.
    #[oai(
        path = "/api/health/live",
        method = "get",
        operation_id = "getLiveness"
    )]
    async fn live(&self) -> Json<Liveness> {
        Json(Liveness {
            status: LiveStatus::Alive,
        })
    }

    /// Readiness: every dependency answers, so this instance can take traffic.
    #[oai(
        path = "/api/health/ready",
        method = "get",
        operation_id = "getReadiness"
    )]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> ReadinessResponse {
        let report = state.check_health.execute().await;
        if report.is_healthy() {
            ReadinessResponse::Ready(Json(Readiness {
                status: ReadyStatus::Ready,
                checks: None,
            }))
        } else {
            ReadinessResponse::NotReady(Json(Readiness {
                status: ReadyStatus::NotReady,
                checks: Some(checks(&report)),
            }))
        }
    }
}

fn checks(report: &HealthReport) -> Checks {
    Checks {
        database: report.get("database").map_or(
            Check {
                status: CheckStatus::Down,
                latency_ms: None,
            },
            check,
        ),
        redis: report.get("redis").map(check),
        queue: report.queue.as_ref().map(queue_check),
    }
}

fn queue_check(queue: &QueueHealth) -> QueueCheck {
    QueueCheck {
        status: if queue.is_up {
            CheckStatus::Up
        } else {
            CheckStatus::Down
        },
        latency_ms: queue.latency_ms,
        pending: queue.pending,
        failed: queue.failed,
    }
}

fn check(dependency: &DependencyHealth) -> Check {
    Check {
        status: if dependency.is_up {
            CheckStatus::Up
        } else {
            CheckStatus::Down
        },
        latency_ms: dependency.latency_ms,
    }
}
