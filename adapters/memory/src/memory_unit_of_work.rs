//! `MemoryUnitOfWork`: transactions over the memory stores, staged and applied on commit.

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{
    AuditLog, JobQueue, NewAuditEvent, NewJob, PortError, QueueError, Transaction, UnitOfWork,
};

/// Stages a transaction's writes and applies them on commit; a dropped transaction applies
/// nothing.
pub struct MemoryUnitOfWork {
    queue: Arc<dyn JobQueue>,
    audit: Arc<dyn AuditLog>,
}

impl MemoryUnitOfWork {
    /// Transactions over `queue` and `audit`.
    pub fn new(queue: Arc<dyn JobQueue>, audit: Arc<dyn AuditLog>) -> Self {
        Self { queue, audit }
    }
}

#[async_trait]
impl UnitOfWork for MemoryUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError> {
        Ok(Box::new(MemoryTransaction {
            queue: self.queue.clone(),
            audit: self.audit.clone(),
            jobs: Vec::new(),
            events: Vec::new(),
        }))
    }
}

struct MemoryTransaction {
    queue: Arc<dyn JobQueue>,
    audit: Arc<dyn AuditLog>,
    jobs: Vec<NewJob>,
    events: Vec<NewAuditEvent>,
}

#[async_trait]
impl Transaction for MemoryTransaction {
    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError> {
        self.jobs.push(job);
        Ok(())
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError> {
        self.events.push(event);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), PortError> {
        let Self {
            queue,
            audit,
            jobs,
            events,
        } = *self;
        for event in events {
            audit.append(event).await?;
        }
        for job in jobs {
            queue
                .enqueue(job)
                .await
                .map_err(|error| PortError::Unexpected(error.into()))?;
        }
        Ok(())
    }
}
