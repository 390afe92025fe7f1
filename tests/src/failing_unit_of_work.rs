//! `FailingUnitOfWork`: the real unit of work with faults injected on demand, so a test can
//! make the audit write, the job enqueue or the commit fail in the middle of a flow and check
//! that nothing of the change is left.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use tokio::sync::oneshot;

use async_trait::async_trait;
use twofa_domain::{
    ApiKeyRepository, BackupCodeRepository, DeviceRepository, FactorRepository, NewAuditEvent,
    NewJob, OneTimeTokenRepository, PortError, QueueError, SessionRepository, Transaction,
    UnitOfWork, UserRepository, WebhookRepository,
};

/// Which steps of a transaction fail while armed.
#[derive(Debug, Default)]
pub struct Faults {
    audit: AtomicBool,
    enqueue: AtomicBool,
    commit: AtomicBool,
    injected: AtomicUsize,
    held: Mutex<Option<(Step, oneshot::Receiver<bool>)>>,
}

/// A step of a transaction a fault can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `Transaction::audit`.
    Audit,
    /// `Transaction::enqueue`.
    Enqueue,
    /// `Transaction::commit` (the transaction is dropped, so it rolls back).
    Commit,
}

impl Step {
    /// Every step.
    pub const ALL: [Self; 3] = [Self::Audit, Self::Enqueue, Self::Commit];
}

impl Faults {
    /// Nothing fails.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn flag(&self, step: Step) -> &AtomicBool {
        match step {
            Step::Audit => &self.audit,
            Step::Enqueue => &self.enqueue,
            Step::Commit => &self.commit,
        }
    }

    /// Makes every `step` fail from now on (until [`Faults::heal`]).
    pub fn arm(&self, step: Step) {
        self.flag(step).store(true, Ordering::SeqCst);
    }

    /// Nothing fails any more.
    pub fn heal(&self) {
        for step in Step::ALL {
            self.flag(step).store(false, Ordering::SeqCst);
        }
    }

    /// Makes the next commit wait until the returned sender says whether it goes through
    /// (`true`) or fails (`false`, or the sender dropped).
    pub fn hold_next_commit(&self) -> oneshot::Sender<bool> {
        self.hold_next(Step::Commit)
    }

    /// Makes the next `step` wait until the returned sender says whether it goes through
    /// (`true`) or fails (`false`, or the sender dropped).
    pub fn hold_next(&self, step: Step) -> oneshot::Sender<bool> {
        let (release, held) = oneshot::channel();
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = Some((step, held));
        release
    }

    /// Waits, if `step` is held, for its release; `false` when it is to fail.
    async fn pass(&self, step: Step) -> bool {
        let held = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            match held.take() {
                Some((at, release)) if at == step => Some(release),
                other => {
                    *held = other;
                    None
                }
            }
        };
        match held {
            Some(release) => {
                let passes = release.await.unwrap_or(false);
                if !passes {
                    self.injected.fetch_add(1, Ordering::SeqCst);
                }
                passes
            }
            None => true,
        }
    }

    /// How many faults were injected so far (a test checks its flow reached the step).
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    fn fails(&self, step: Step) -> bool {
        let fails = self.flag(step).load(Ordering::SeqCst);
        if fails {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fails
    }
}

fn injected(step: Step) -> anyhow::Error {
    anyhow::anyhow!("a fault injected into {step:?} by the test")
}

/// The unit of work `inner`, failing where `faults` say.
pub struct FailingUnitOfWork {
    inner: Arc<dyn UnitOfWork>,
    faults: Arc<Faults>,
}

impl FailingUnitOfWork {
    /// `inner` with `faults`.
    pub fn new(inner: Arc<dyn UnitOfWork>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl UnitOfWork for FailingUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError> {
        Ok(Box::new(FailingTransaction {
            inner: self.inner.begin().await?,
            faults: self.faults.clone(),
        }))
    }
}

struct FailingTransaction {
    inner: Box<dyn Transaction>,
    faults: Arc<Faults>,
}

#[async_trait]
impl Transaction for FailingTransaction {
    fn users(&self) -> &dyn UserRepository {
        self.inner.users()
    }

    fn sessions(&self) -> &dyn SessionRepository {
        self.inner.sessions()
    }

    fn one_time_tokens(&self) -> &dyn OneTimeTokenRepository {
        self.inner.one_time_tokens()
    }

    fn factors(&self) -> &dyn FactorRepository {
        self.inner.factors()
    }

    fn backup_codes(&self) -> &dyn BackupCodeRepository {
        self.inner.backup_codes()
    }

    fn devices(&self) -> &dyn DeviceRepository {
        self.inner.devices()
    }

    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self.inner.api_keys()
    }

    fn webhooks(&self) -> &dyn WebhookRepository {
        self.inner.webhooks()
    }

    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError> {
        if !self.faults.pass(Step::Enqueue).await || self.faults.fails(Step::Enqueue) {
            return Err(QueueError::Unexpected(injected(Step::Enqueue)));
        }
        self.inner.enqueue(job).await
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError> {
        if !self.faults.pass(Step::Audit).await || self.faults.fails(Step::Audit) {
            return Err(PortError::Unexpected(injected(Step::Audit)));
        }
        self.inner.audit(event).await
    }

    async fn commit(self: Box<Self>) -> Result<(), PortError> {
        if !self.faults.pass(Step::Commit).await || self.faults.fails(Step::Commit) {
            return Err(PortError::Unexpected(injected(Step::Commit)));
        }
        self.inner.commit().await
    }
}
