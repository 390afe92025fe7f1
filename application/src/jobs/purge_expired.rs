//! `maintenance.purge`: deletes what has outlived its retention (`ScheduleMaintenance`
//! enqueues it once per interval).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{
    Clock, DeviceRepository, JobQueue, OneTimeTokenRepository, SessionRepository, WebhookRepository,
};

use crate::worker::{JobFailure, JobHandler};

/// The job kind.
pub const PURGE_EXPIRED: &str = "maintenance.purge";

/// Deletes what has outlived its retention: finished jobs, sessions that expired or were
/// revoked, one-time tokens that expired or were used, trusted devices that expired, and
/// webhook deliveries made (whatever came of them), each more than the retention ago (kept that long for inspection). Challenges and pending codes
/// expire by themselves.
pub struct PurgeExpired {
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    job_retention: TimeDelta,
    sessions: Option<Arc<dyn SessionRepository>>,
    one_time_tokens: Option<Arc<dyn OneTimeTokenRepository>>,
    devices: Option<Arc<dyn DeviceRepository>>,
    webhooks: Option<Arc<dyn WebhookRepository>>,
}

impl PurgeExpired {
    /// Purges `queue`'s finished jobs older than `job_retention`.
    pub fn new(queue: Arc<dyn JobQueue>, clock: Arc<dyn Clock>, job_retention: Duration) -> Self {
        Self {
            queue,
            clock,
            job_retention: TimeDelta::from_std(job_retention).unwrap_or(TimeDelta::MAX),
            sessions: None,
            one_time_tokens: None,
            devices: None,
            webhooks: None,
        }
    }

    /// Also purges the delivery log of `webhooks`.
    #[must_use]
    pub fn with_webhook_deliveries(mut self, webhooks: Arc<dyn WebhookRepository>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// Also purges expired trusted `devices`.
    #[must_use]
    pub fn with_devices(mut self, devices: Arc<dyn DeviceRepository>) -> Self {
        self.devices = Some(devices);
        self
    }

    /// Also purges `sessions`.
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionRepository>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Also purges `tokens`.
    #[must_use]
    pub fn with_one_time_tokens(mut self, tokens: Arc<dyn OneTimeTokenRepository>) -> Self {
        self.one_time_tokens = Some(tokens);
        self
    }
}

#[async_trait]
impl JobHandler for PurgeExpired {
    fn kind(&self) -> &'static str {
        PURGE_EXPIRED
    }

    async fn handle(&self, _payload: &serde_json::Value) -> Result<(), JobFailure> {
        let before = self.clock.now() - self.job_retention;
        let jobs = self
            .queue
            .purge(before)
            .await
            .map_err(|error| JobFailure::Retryable(error.into()))?;
        let sessions = match &self.sessions {
            Some(sessions) => sessions
                .purge_expired(before)
                .await
                .map_err(|error| JobFailure::Retryable(error.into()))?,
            None => 0,
        };
        let tokens = match &self.one_time_tokens {
            Some(tokens) => tokens
                .purge_expired(before)
                .await
                .map_err(|error| JobFailure::Retryable(error.into()))?,
            None => 0,
        };
        let devices = match &self.devices {
            Some(devices) => devices
                .purge_expired(before)
                .await
                .map_err(|error| JobFailure::Retryable(error.into()))?,
            None => 0,
        };
        let deliveries = match &self.webhooks {
            Some(webhooks) => webhooks
                .purge_deliveries(before)
                .await
                .map_err(|error| JobFailure::Retryable(error.into()))?,
            None => 0,
        };
        tracing::info!(
            jobs,
            sessions,
            tokens,
            devices,
            deliveries,
            "records past retention purged"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use futures::executor::block_on;
    use twofa_domain::{NewJob, QueueCounts};
    use twofa_memory::{ManualClock, MemoryJobQueue, SeededSecretGenerator};

    use super::*;

    fn setup() -> (Arc<ManualClock>, Arc<MemoryJobQueue>) {
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(ManualClock::new(start));
        let queue = Arc::new(MemoryJobQueue::new(
            clock.clone(),
            Arc::new(SeededSecretGenerator::new(1)),
        ));
        (clock, queue)
    }

    fn finish(queue: &MemoryJobQueue, kind: &str) {
        block_on(queue.enqueue(NewJob::new(kind, serde_json::json!({}), 1))).unwrap();
        let job = block_on(queue.claim(Duration::from_secs(30)))
            .unwrap()
            .unwrap();
        block_on(queue.complete(&job)).unwrap();
    }

    #[test]
    fn sessions_and_one_time_tokens_past_retention_are_purged_too() {
        use twofa_domain::{
            NewOneTimeToken, NewSession, OneTimeTokenHash, RefreshTokenHash, SessionId,
            TokenPurpose, UserId,
        };
        use twofa_memory::{MemoryOneTimeTokenRepository, MemorySessionRepository};

        let (clock, queue) = setup();
        let sessions = Arc::new(MemorySessionRepository::new(clock.clone()));
        let tokens = Arc::new(MemoryOneTimeTokenRepository::new(clock.clone()));
        let user = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let session = |n: u128, lifetime: TimeDelta| NewSession {
            id: SessionId::from_uuid(uuid::Uuid::from_u128(n)),
            user_id: user,
            amr: vec!["pwd".to_owned()],
            ip: None,
            user_agent: None,
            expires_at: clock.now() + lifetime,
        };
        block_on(sessions.create(
            session(10, TimeDelta::hours(1)),
            RefreshTokenHash::from_bytes([1; 32]),
        ))
        .unwrap();
        block_on(sessions.create(
            session(11, TimeDelta::days(30)),
            RefreshTokenHash::from_bytes([2; 32]),
        ))
        .unwrap();
        block_on(tokens.issue(NewOneTimeToken {
            hash: OneTimeTokenHash::from_bytes([3; 32]),
            purpose: TokenPurpose::ResetPassword,
            user_id: user,
            expires_at: clock.now() + TimeDelta::hours(1),
        }))
        .unwrap();
        let purge = PurgeExpired::new(queue, clock.clone(), Duration::from_hours(7 * 24))
            .with_sessions(sessions.clone())
            .with_one_time_tokens(tokens.clone());
        clock.advance(TimeDelta::days(8));
        block_on(purge.handle(&serde_json::json!({}))).unwrap();
        // What expired 8 days ago is gone; the 30-day session is untouched.
        assert_eq!(block_on(sessions.purge_expired(clock.now())).unwrap(), 0);
        assert_eq!(block_on(tokens.purge_expired(clock.now())).unwrap(), 0);
        let kept =
            block_on(sessions.find(SessionId::from_uuid(uuid::Uuid::from_u128(11)))).unwrap();
        assert!(kept.is_some());
        assert!(
            block_on(sessions.find(SessionId::from_uuid(uuid::Uuid::from_u128(10))))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn trusted_devices_expired_past_retention_are_purged() {
        use twofa_domain::{DeviceId, NewTrustedDevice, SecretDigest, UserId};
        use twofa_memory::MemoryDeviceRepository;

        let (clock, queue) = setup();
        let devices = Arc::new(MemoryDeviceRepository::new(clock.clone()));
        let user = UserId::from_uuid(uuid::Uuid::from_u128(1));
        for (n, days) in [(1_u8, 1), (2, 60)] {
            block_on(devices.add(NewTrustedDevice {
                id: DeviceId::from_uuid(uuid::Uuid::from_u128(u128::from(n))),
                user_id: user,
                token_hash: SecretDigest::from_bytes([n; 32]),
                name: None,
                ip: None,
                user_agent: None,
                expires_at: clock.now() + TimeDelta::days(days),
            }))
            .unwrap();
        }
        let purge = PurgeExpired::new(queue, clock.clone(), Duration::from_hours(7 * 24))
            .with_devices(devices.clone());
        clock.advance(TimeDelta::days(9));
        block_on(purge.handle(&serde_json::json!({}))).unwrap();
        // The device that expired 8 days ago is gone; the live one is kept.
        assert_eq!(block_on(devices.purge_expired(clock.now())).unwrap(), 0);
        assert_eq!(block_on(devices.list(user)).unwrap().len(), 1);
    }

    #[test]
    fn the_purge_deletes_finished_jobs_past_retention_only() {
        let (clock, queue) = setup();
        let purge = PurgeExpired::new(queue.clone(), clock.clone(), Duration::from_hours(7 * 24));
        finish(&queue, "old");
        clock.advance(TimeDelta::days(6));
        finish(&queue, "recent");
        block_on(
            queue.enqueue(
                NewJob::new("waiting", serde_json::json!({}), 1)
                    .run_at(clock.now() + TimeDelta::days(30)),
            ),
        )
        .unwrap();
        clock.advance(TimeDelta::days(2));
        block_on(purge.handle(&serde_json::json!({}))).unwrap();
        // The old job (8 days) is gone; the recent one (2 days) is still there to purge.
        assert_eq!(block_on(queue.purge(clock.now())).unwrap(), 1);
        assert_eq!(
            block_on(queue.counts()).unwrap(),
            QueueCounts {
                pending: 1,
                running: 0,
                dead: 0
            }
        );
    }
}
