//! `MemoryDatabase`: the committed tables that the memory repositories and the memory unit of
//! work over one database share, and the one writer lock that serialises their writes.
//!
//! What belongs here: where a repository's reads and writes land (the committed tables, or a
//! transaction's staged copy of them) and how a transaction's copy is applied. What must not:
//! any repository's rules; those live on the table types (`UserTable`, `SessionTable`,
//! `OneTimeTokenTable`, `FactorTable`, `BackupCodeTable`, `DeviceTable`, `ApiKeyTable`,
//! `WebhookTable`), so a plain repository and a transaction-bound one share them.

use std::{mem, sync::Arc};

use chrono::{DateTime, SubsecRound as _, Utc};
use futures::lock::{Mutex, MutexGuard, OwnedMutexGuard};
use twofa_domain::Clock;

use crate::{
    MemoryApiKeyRepository, MemoryBackupCodeRepository, MemoryDeviceRepository,
    MemoryFactorRepository, MemoryOneTimeTokenRepository, MemorySessionRepository,
    MemoryUserRepository, MemoryWebhookRepository, memory_api_key_repository::ApiKeyTable,
    memory_backup_code_repository::BackupCodeTable, memory_device_repository::DeviceTable,
    memory_factor_repository::FactorTable, memory_one_time_token_repository::OneTimeTokenTable,
    memory_session_repository::SessionTable, memory_user_repository::UserTable,
    memory_webhook_repository::WebhookTable,
};

/// One in-process database: users, sessions with their refresh tokens, one-time tokens,
/// second factors, backup codes, trusted devices, API keys, and webhook endpoints with their
/// deliveries.
///
/// Every repository handed out by [`MemoryDatabase::users`], [`MemoryDatabase::sessions`],
/// [`MemoryDatabase::one_time_tokens`], [`MemoryDatabase::factors`],
/// [`MemoryDatabase::backup_codes`], [`MemoryDatabase::devices`],
/// [`MemoryDatabase::api_keys`] and [`MemoryDatabase::webhooks`], and every transaction of a
/// [`MemoryUnitOfWork`](crate::MemoryUnitOfWork) built over it, works on the same tables.
/// Writers are serialised by one lock, as SQLite serialises its writers: a transaction holds
/// it from `begin` until it commits or is dropped, and a plain (non-transactional) write holds
/// it for that one write, so a plain write never interleaves with a transaction. Plain reads
/// take no writer lock and see committed state only.
///
/// A plain write awaited while the same task holds an open transaction on the same database
/// waits forever (as a second SQLite writer waits on the first), and so does a second `begin`
/// awaited in the task holding the first transaction: a use case makes all its writes through
/// its transaction's repositories.
///
/// Cloning gives another handle on the same database.
#[derive(Clone)]
pub struct MemoryDatabase {
    shared: Arc<Shared>,
}

struct Shared {
    /// The committed tables. Held briefly by reads and writes, and by a commit from its first
    /// audit event to its table swap, so nobody reads the tables between a job becoming
    /// claimable and the change it belongs to becoming visible.
    tables: Mutex<Tables>,
    /// The writer lock: one transaction or one plain write at a time.
    writer: Arc<Mutex<()>>,
    clock: Arc<dyn Clock>,
}

impl MemoryDatabase {
    /// An empty database; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                tables: Mutex::new(Tables::default()),
                writer: Arc::new(Mutex::new(())),
                clock,
            }),
        }
    }

    /// The accounts of this database, outside any transaction.
    pub fn users(&self) -> Arc<MemoryUserRepository> {
        Arc::new(MemoryUserRepository::over(Scope::Committed(self.clone())))
    }

    /// The sessions and refresh tokens of this database, outside any transaction.
    pub fn sessions(&self) -> Arc<MemorySessionRepository> {
        Arc::new(MemorySessionRepository::over(Scope::Committed(
            self.clone(),
        )))
    }

    /// The one-time tokens of this database, outside any transaction.
    pub fn one_time_tokens(&self) -> Arc<MemoryOneTimeTokenRepository> {
        Arc::new(MemoryOneTimeTokenRepository::over(Scope::Committed(
            self.clone(),
        )))
    }

    /// The second factors of this database, outside any transaction.
    pub fn factors(&self) -> Arc<MemoryFactorRepository> {
        Arc::new(MemoryFactorRepository::over(Scope::Committed(self.clone())))
    }

    /// The backup codes of this database, outside any transaction.
    pub fn backup_codes(&self) -> Arc<MemoryBackupCodeRepository> {
        Arc::new(MemoryBackupCodeRepository::over(Scope::Committed(
            self.clone(),
        )))
    }

    /// The trusted devices of this database, outside any transaction.
    pub fn devices(&self) -> Arc<MemoryDeviceRepository> {
        Arc::new(MemoryDeviceRepository::over(Scope::Committed(self.clone())))
    }

    /// The API keys of this database, outside any transaction.
    pub fn api_keys(&self) -> Arc<MemoryApiKeyRepository> {
        Arc::new(MemoryApiKeyRepository::over(Scope::Committed(self.clone())))
    }

    /// The webhook endpoints and deliveries of this database, outside any transaction.
    pub fn webhooks(&self) -> Arc<MemoryWebhookRepository> {
        Arc::new(MemoryWebhookRepository::over(Scope::Committed(
            self.clone(),
        )))
    }

    /// Waits for the writer lock and holds it until the guard is dropped (a transaction).
    pub(crate) async fn lock_writer(&self) -> OwnedMutexGuard<()> {
        Arc::clone(&self.shared.writer).lock_owned().await
    }

    /// The committed tables, locked.
    pub(crate) async fn tables(&self) -> MutexGuard<'_, Tables> {
        self.shared.tables.lock().await
    }

    /// The clock's time to the microsecond, as the SQL databases keep it.
    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now().trunc_subsecs(6)
    }
}

/// Every table of a database.
#[derive(Default)]
pub(crate) struct Tables {
    users: UserTable,
    sessions: SessionTable,
    one_time_tokens: OneTimeTokenTable,
    factors: FactorTable,
    backup_codes: BackupCodeTable,
    devices: DeviceTable,
    api_keys: ApiKeyTable,
    webhooks: WebhookTable,
}

/// A transaction's copies of the tables it wrote to; `None` for a table it has not written.
#[derive(Default)]
pub(crate) struct Staged {
    users: Option<UserTable>,
    sessions: Option<SessionTable>,
    one_time_tokens: Option<OneTimeTokenTable>,
    factors: Option<FactorTable>,
    backup_codes: Option<BackupCodeTable>,
    devices: Option<DeviceTable>,
    api_keys: Option<ApiKeyTable>,
    webhooks: Option<WebhookTable>,
}

/// A table: where it sits among the committed tables and among a transaction's copies.
pub(crate) trait Table: Clone + Send + 'static {
    /// This table among the committed ones.
    fn of(tables: &Tables) -> &Self;

    /// This table among the committed ones, to change.
    fn of_mut(tables: &mut Tables) -> &mut Self;

    /// This table among a transaction's copies.
    fn staged(staged: &mut Staged) -> &mut Option<Self>;
}

/// Places each table type at its field of [`Tables`] and [`Staged`].
macro_rules! tables {
    ($($table:ty => $field:ident),* $(,)?) => {$(
        impl Table for $table {
            fn of(tables: &Tables) -> &Self {
                &tables.$field
            }

            fn of_mut(tables: &mut Tables) -> &mut Self {
                &mut tables.$field
            }

            fn staged(staged: &mut Staged) -> &mut Option<Self> {
                &mut staged.$field
            }
        }
    )*};
}

tables!(
    UserTable => users,
    SessionTable => sessions,
    OneTimeTokenTable => one_time_tokens,
    FactorTable => factors,
    BackupCodeTable => backup_codes,
    DeviceTable => devices,
    ApiKeyTable => api_keys,
    WebhookTable => webhooks,
);

impl Tables {
    /// Replaces every table `staged` holds a copy of.
    pub(crate) fn apply(&mut self, staged: Staged) {
        let Staged {
            users,
            sessions,
            one_time_tokens,
            factors,
            backup_codes,
            devices,
            api_keys,
            webhooks,
        } = staged;
        if let Some(users) = users {
            self.users = users;
        }
        if let Some(sessions) = sessions {
            self.sessions = sessions;
        }
        if let Some(one_time_tokens) = one_time_tokens {
            self.one_time_tokens = one_time_tokens;
        }
        if let Some(factors) = factors {
            self.factors = factors;
        }
        if let Some(backup_codes) = backup_codes {
            self.backup_codes = backup_codes;
        }
        if let Some(devices) = devices {
            self.devices = devices;
        }
        if let Some(api_keys) = api_keys {
            self.api_keys = api_keys;
        }
        if let Some(webhooks) = webhooks {
            self.webhooks = webhooks;
        }
    }
}

/// Where a repository's reads and writes land.
pub(crate) enum Scope {
    /// The committed tables: each write takes the writer lock for itself.
    Committed(MemoryDatabase),
    /// A transaction's staged copy, over the committed tables it has not written.
    Transaction(Arc<StagedTables>),
}

impl Scope {
    /// The clock's time to the microsecond.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.database().now()
    }

    fn database(&self) -> &MemoryDatabase {
        match self {
            Self::Committed(database) => database,
            Self::Transaction(staged) => &staged.database,
        }
    }

    /// Reads table `T`: the transaction's copy if it has one, else the committed table.
    pub(crate) async fn read<T: Table, R>(&self, read: impl FnOnce(&T) -> R + Send) -> R {
        match self {
            Self::Committed(database) => read(T::of(&*database.tables().await)),
            Self::Transaction(staged) => {
                let mut copies = staged.copies.lock().await;
                match T::staged(&mut copies) {
                    Some(copy) => read(copy),
                    None => read(T::of(&*staged.database.tables().await)),
                }
            }
        }
    }

    /// Changes table `T`, handing `write` the clock's time once it may write: the committed
    /// table under the writer lock, or the transaction's copy (made on its first write).
    pub(crate) async fn write<T: Table, R>(
        &self,
        write: impl FnOnce(&mut T, DateTime<Utc>) -> R + Send,
    ) -> R {
        match self {
            Self::Committed(database) => {
                let _writer = database.shared.writer.lock().await;
                let now = database.now();
                write(T::of_mut(&mut *database.tables().await), now)
            }
            Self::Transaction(staged) => {
                let mut copies = staged.copies.lock().await;
                let slot = T::staged(&mut copies);
                let copy = match slot.take() {
                    Some(copy) => copy,
                    None => T::of(&*staged.database.tables().await).clone(),
                };
                write(slot.insert(copy), staged.database.now())
            }
        }
    }
}

/// A transaction's copies of the tables it wrote, shared by the repositories it hands out.
pub(crate) struct StagedTables {
    database: MemoryDatabase,
    copies: Mutex<Staged>,
}

impl StagedTables {
    /// No copies yet, over `database`.
    pub(crate) fn new(database: MemoryDatabase) -> Self {
        Self {
            database,
            copies: Mutex::new(Staged::default()),
        }
    }

    /// Takes the copies out, leaving none.
    pub(crate) async fn take(&self) -> Staged {
        mem::take(&mut *self.copies.lock().await)
    }
}
