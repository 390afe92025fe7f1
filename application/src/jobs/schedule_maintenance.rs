//! `ScheduleMaintenance`: every worker runs it on a timer, so that the maintenance purge is
//! enqueued once per interval across all workers (an idempotency key per interval).

use std::{sync::Arc, time::Duration};

use twofa_domain::{Clock, JobQueue, NewJob, QueueError};

use super::PURGE_EXPIRED;

/// Enqueues the maintenance job for the current interval, once across all workers.
pub struct ScheduleMaintenance {
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    interval: Duration,
}

impl ScheduleMaintenance {
    /// Once per `interval`.
    pub fn new(queue: Arc<dyn JobQueue>, clock: Arc<dyn Clock>, interval: Duration) -> Self {
        Self {
            queue,
            clock,
            interval,
        }
    }

    /// Enqueues this interval's purge unless some worker already did.
    ///
    /// # Errors
    /// `QueueError` when the queue cannot be reached.
    pub async fn execute(&self) -> Result<(), QueueError> {
        let interval_ms = i64::try_from(self.interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let bucket = self.clock.now().timestamp_millis().div_euclid(interval_ms);
        self.queue
            .enqueue(
                NewJob::new(PURGE_EXPIRED, serde_json::json!({}), 3)
                    .idempotency_key(format!("{PURGE_EXPIRED}:{interval_ms}:{bucket}")),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta};
    use futures::executor::block_on;
    use twofa_memory::{ManualClock, MemoryJobQueue, SeededSecretGenerator};

    use super::*;

    #[test]
    fn many_workers_schedule_one_purge_per_interval() {
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(ManualClock::new(start));
        let queue = Arc::new(MemoryJobQueue::new(
            clock.clone(),
            Arc::new(SeededSecretGenerator::new(1)),
        ));
        let schedulers: Vec<_> = (0..3)
            .map(|_| {
                ScheduleMaintenance::new(queue.clone(), clock.clone(), Duration::from_hours(1))
            })
            .collect();
        for scheduler in &schedulers {
            block_on(scheduler.execute()).unwrap();
        }
        clock.advance(TimeDelta::minutes(30));
        block_on(schedulers[0].execute()).unwrap();
        assert_eq!(block_on(queue.counts()).unwrap().pending, 1);
        clock.advance(TimeDelta::minutes(31));
        block_on(schedulers[1].execute()).unwrap();
        assert_eq!(
            block_on(queue.counts()).unwrap().pending,
            2,
            "a new interval, a new purge"
        );
    }
}
