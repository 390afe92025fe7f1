//! `CheckHealth`: asks every dependency, at once, whether it is up.

use std::sync::Arc;

use futures::future::join_all;
use twofa_domain::{Clock, DependencyProbe, JobQueue};

/// One dependency's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyHealth {
    /// `database`, `redis`, …
    pub name: &'static str,
    /// Whether it answered in time.
    pub is_up: bool,
    /// How long the round trip took, when it answered.
    pub latency_ms: Option<u64>,
}

/// The job queue's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHealth {
    /// Whether its counts could be read.
    pub is_up: bool,
    /// How long reading them took.
    pub latency_ms: Option<u64>,
    /// Jobs waiting to run.
    pub pending: u64,
    /// Jobs in the dead letter.
    pub failed: u64,
}

/// The service's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    /// Everything is up and no work is piling up.
    Healthy,
    /// Up, but jobs sit in the dead letter or the backlog is over its threshold.
    Degraded,
    /// A dependency (the database, Redis, the queue's store) is down.
    Unhealthy,
}

/// Every dependency's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// In the order the probes were given.
    pub dependencies: Vec<DependencyHealth>,
    /// The job queue, when one is checked.
    pub queue: Option<QueueHealth>,
    /// Pending jobs above this are a backlog.
    pub backlog_threshold: u64,
}

impl HealthReport {
    /// Whether every dependency is up: the instance can take traffic.
    pub fn is_healthy(&self) -> bool {
        self.dependencies.iter().all(|d| d.is_up) && self.queue.as_ref().is_none_or(|q| q.is_up)
    }

    /// Healthy, degraded or unhealthy.
    pub fn status(&self) -> HealthStatus {
        if !self.is_healthy() {
            return HealthStatus::Unhealthy;
        }
        match &self.queue {
            Some(queue) if queue.failed > 0 || queue.pending > self.backlog_threshold => {
                HealthStatus::Degraded
            }
            Some(_) | None => HealthStatus::Healthy,
        }
    }

    /// The answer of the dependency called `name`.
    pub fn get(&self, name: &str) -> Option<&DependencyHealth> {
        self.dependencies.iter().find(|d| d.name == name)
    }
}

/// Runs every probe concurrently; each probe bounds its own wait, so the report comes back
/// within the slowest probe's timeout even when a dependency hangs.
pub struct CheckHealth {
    probes: Vec<Arc<dyn DependencyProbe>>,
    clock: Arc<dyn Clock>,
    queue: Option<(Arc<dyn JobQueue>, u64)>,
}

impl CheckHealth {
    /// A check over `probes`, timed by `clock`.
    pub fn new(probes: Vec<Arc<dyn DependencyProbe>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            probes,
            clock,
            queue: None,
        }
    }

    /// Also reports `queue`'s counts; more than `backlog_threshold` pending jobs, or any job
    /// in the dead letter, is `degraded`.
    #[must_use]
    pub fn with_queue(mut self, queue: Arc<dyn JobQueue>, backlog_threshold: u64) -> Self {
        self.queue = Some((queue, backlog_threshold));
        self
    }

    async fn check_queue(&self, queue: &dyn JobQueue) -> QueueHealth {
        let started = self.clock.now();
        match queue.counts().await {
            Ok(counts) => QueueHealth {
                is_up: true,
                latency_ms: Some(
                    u64::try_from((self.clock.now() - started).num_milliseconds()).unwrap_or(0),
                ),
                pending: counts.pending,
                failed: counts.dead,
            },
            Err(error) => {
                tracing::warn!(
                    error = twofa_domain::error_chain(&error),
                    "the job queue is down"
                );
                QueueHealth {
                    is_up: false,
                    latency_ms: None,
                    pending: 0,
                    failed: 0,
                }
            }
        }
    }

    /// Probes every dependency.
    #[tracing::instrument(name = "check_health", skip_all)]
    pub async fn execute(&self) -> HealthReport {
        let queue = async {
            match &self.queue {
                Some((queue, _)) => Some(self.check_queue(queue.as_ref()).await),
                None => None,
            }
        };
        let dependencies = join_all(self.probes.iter().map(|probe| async {
            let started = self.clock.now();
            let outcome = probe.check().await;
            let elapsed = (self.clock.now() - started).num_milliseconds();
            match outcome {
                Ok(()) => DependencyHealth {
                    name: probe.name(),
                    is_up: true,
                    latency_ms: Some(u64::try_from(elapsed).unwrap_or(0)),
                },
                Err(error) => {
                    tracing::warn!(
                        dependency = probe.name(),
                        error = twofa_domain::error_chain(&error),
                        "dependency is down"
                    );
                    DependencyHealth {
                        name: probe.name(),
                        is_up: false,
                        latency_ms: None,
                    }
                }
            }
        }));
        let (dependencies, queue) = futures::join!(dependencies, queue);
        HealthReport {
            dependencies,
            queue,
            backlog_threshold: self
                .queue
                .as_ref()
                .map_or(u64::MAX, |(_, threshold)| *threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use chrono::{DateTime, TimeDelta};
    use futures::executor::block_on;
    use twofa_domain::ProbeError;
    use twofa_memory::{AlwaysUpProbe, ManualClock};

    use super::*;

    struct DownProbe;

    #[async_trait]
    impl DependencyProbe for DownProbe {
        fn name(&self) -> &'static str {
            "redis"
        }
        async fn check(&self) -> Result<(), ProbeError> {
            Err(ProbeError::TimedOut(std::time::Duration::from_secs(2)))
        }
    }

    /// A probe that takes 7 ms of the manual clock's time.
    struct SlowProbe(Arc<ManualClock>);

    #[async_trait]
    impl DependencyProbe for SlowProbe {
        fn name(&self) -> &'static str {
            "database"
        }
        async fn check(&self) -> Result<(), ProbeError> {
            self.0.advance(TimeDelta::milliseconds(7));
            Ok(())
        }
    }

    fn clock() -> Arc<ManualClock> {
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap();
        Arc::new(ManualClock::new(start.to_utc()))
    }

    #[test]
    fn all_up_is_healthy() {
        let check = CheckHealth::new(vec![Arc::new(AlwaysUpProbe::new("database"))], clock());
        let report = block_on(check.execute());
        assert!(report.is_healthy());
        assert_eq!(report.get("database").unwrap().latency_ms, Some(0));
    }

    #[test]
    fn one_dependency_down_is_unhealthy_and_named() {
        let check = CheckHealth::new(
            vec![
                Arc::new(AlwaysUpProbe::new("database")),
                Arc::new(DownProbe),
            ],
            clock(),
        );
        let report = block_on(check.execute());
        assert!(!report.is_healthy());
        assert!(report.get("database").unwrap().is_up);
        let redis = report.get("redis").unwrap();
        assert!(!redis.is_up);
        assert_eq!(redis.latency_ms, None);
    }

    fn queue_with(dead: u32, pending: u32) -> Arc<twofa_memory::MemoryJobQueue> {
        use twofa_domain::NewJob;
        let clock = clock();
        let queue = Arc::new(twofa_memory::MemoryJobQueue::new(
            clock,
            Arc::new(twofa_memory::SeededSecretGenerator::new(1)),
        ));
        for _ in 0..dead {
            block_on(queue.enqueue(NewJob::new("x", serde_json::json!({}), 1))).unwrap();
            let job = block_on(queue.claim(std::time::Duration::from_secs(30)))
                .unwrap()
                .unwrap();
            block_on(queue.bury(&job, "permanent")).unwrap();
        }
        for _ in 0..pending {
            block_on(queue.enqueue(NewJob::new("x", serde_json::json!({}), 1))).unwrap();
        }
        queue
    }

    #[test]
    fn the_queue_is_reported_and_a_quiet_one_is_healthy() {
        let check = CheckHealth::new(vec![Arc::new(AlwaysUpProbe::new("database"))], clock())
            .with_queue(queue_with(0, 3), 10);
        let report = block_on(check.execute());
        assert_eq!(report.status(), HealthStatus::Healthy);
        let queue = report.queue.unwrap();
        assert_eq!((queue.pending, queue.failed), (3, 0));
    }

    #[test]
    fn a_dead_letter_or_a_backlog_is_degraded_but_ready() {
        let dead = CheckHealth::new(vec![], clock()).with_queue(queue_with(1, 0), 10);
        let report = block_on(dead.execute());
        assert_eq!(report.status(), HealthStatus::Degraded);
        assert!(report.is_healthy(), "degraded still takes traffic");
        let backlog = CheckHealth::new(vec![], clock()).with_queue(queue_with(0, 11), 10);
        assert_eq!(block_on(backlog.execute()).status(), HealthStatus::Degraded);
    }

    #[test]
    fn a_dependency_down_is_unhealthy_even_with_a_backlog() {
        let check =
            CheckHealth::new(vec![Arc::new(DownProbe)], clock()).with_queue(queue_with(1, 0), 10);
        assert_eq!(block_on(check.execute()).status(), HealthStatus::Unhealthy);
    }

    #[test]
    fn latency_is_measured_on_the_clock() {
        let clock = clock();
        let check = CheckHealth::new(vec![Arc::new(SlowProbe(clock.clone()))], clock);
        let report = block_on(check.execute());
        assert_eq!(report.get("database").unwrap().latency_ms, Some(7));
    }
}
