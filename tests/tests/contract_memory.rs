//! The port contracts against the memory adapters.

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{AuditLog, JobQueue};
use twofa_memory::{
    ManualClock, MemoryAuditLog, MemoryDatabase, MemoryJobQueue, MemoryUnitOfWork,
    SeededSecretGenerator,
};
use twofa_tests::contract::{
    audit_log::AuditBackend,
    job_queue::QueueBackend,
    unit_of_work::{Stores, UnitOfWorkBackend},
};

struct Memory;

fn ids() -> Arc<SeededSecretGenerator> {
    Arc::new(SeededSecretGenerator::new(42))
}

#[async_trait]
impl QueueBackend for Memory {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>) {
        let queue: Arc<dyn JobQueue> = Arc::new(MemoryJobQueue::new(clock, ids()));
        (queue.clone(), queue)
    }
}

#[async_trait]
impl AuditBackend for Memory {
    async fn open(&self, clock: Arc<ManualClock>) -> Arc<dyn AuditLog> {
        Arc::new(MemoryAuditLog::new(clock, ids()))
    }
}

#[async_trait]
impl UnitOfWorkBackend for Memory {
    async fn open(&self, clock: Arc<ManualClock>) -> Stores {
        let queue: Arc<dyn JobQueue> = Arc::new(MemoryJobQueue::new(clock.clone(), ids()));
        let audit: Arc<dyn AuditLog> = Arc::new(MemoryAuditLog::new(clock.clone(), ids()));
        let database = MemoryDatabase::new(clock);
        Stores {
            unit_of_work: Arc::new(MemoryUnitOfWork::new(
                &database,
                queue.clone(),
                audit.clone(),
            )),
            queue,
            audit,
            users: database.users(),
            sessions: database.sessions(),
            one_time_tokens: database.one_time_tokens(),
            factors: database.factors(),
            backup_codes: database.backup_codes(),
            devices: database.devices(),
            api_keys: database.api_keys(),
            webhooks: database.webhooks(),
        }
    }
}

mod job_queue {
    twofa_tests::job_queue_contract!(super::Memory);
}

mod audit_log {
    twofa_tests::audit_log_contract!(super::Memory);
}

mod unit_of_work {
    twofa_tests::unit_of_work_contract!(super::Memory);
}
