//! `CheckHealth`: asks every dependency, at once, whether it is up.

use std::sync::Arc;

use futures::future::join_all;
use twofa_domain::{Clock, DependencyProbe};

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

/// Every dependency's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// In the order the probes were given.
    pub dependencies: Vec<DependencyHealth>,
}

impl HealthReport {
    /// Whether every dependency is up.
    pub fn is_healthy(&self) -> bool {
        self.dependencies.iter().all(|d| d.is_up)
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
}

impl CheckHealth {
    /// A check over `probes`, timed by `clock`.
    pub fn new(probes: Vec<Arc<dyn DependencyProbe>>, clock: Arc<dyn Clock>) -> Self {
        Self { probes, clock }
    }

    /// Probes every dependency.
    #[tracing::instrument(name = "check_health", skip_all)]
    pub async fn execute(&self) -> HealthReport {
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
                    tracing::warn!(dependency = probe.name(), error = %error, "dependency is down");
                    DependencyHealth {
                        name: probe.name(),
                        is_up: false,
                        latency_ms: None,
                    }
                }
            }
        }))
        .await;
        HealthReport { dependencies }
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

    #[test]
    fn latency_is_measured_on_the_clock() {
        let clock = clock();
        let check = CheckHealth::new(vec![Arc::new(SlowProbe(clock.clone()))], clock);
        let report = block_on(check.execute());
        assert_eq!(report.get("database").unwrap().latency_ms, Some(7));
    }
}
