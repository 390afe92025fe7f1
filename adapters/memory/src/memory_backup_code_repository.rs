//! `MemoryBackupCodeRepository`: the `BackupCodeRepository` port in process memory, outside
//! or inside a memory transaction.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{BackupCodeRepository, Clock, PortError, SecretDigest, UserId};

use crate::{MemoryDatabase, memory_database::Scope};

/// A code as kept: its keyed hash and when it was used, if it was.
#[derive(Debug, Clone)]
struct StoredCode {
    hash: SecretDigest,
    used_at: Option<DateTime<Utc>>,
}

/// Each user's codes: the rules of the port, shared by the plain repository and the
/// transaction-bound one.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackupCodeTable {
    codes: HashMap<UserId, Vec<StoredCode>>,
}

impl BackupCodeTable {
    /// Replaces the user's codes with `hashes`, all unused; refuses a hash given twice.
    fn replace(&mut self, user_id: UserId, hashes: Vec<SecretDigest>) -> Result<(), PortError> {
        for (index, hash) in hashes.iter().enumerate() {
            if hashes[..index].contains(hash) {
                return Err(PortError::Unexpected(anyhow::anyhow!(
                    "replacing backup codes: a hash is given twice"
                )));
            }
        }
        let codes = hashes
            .into_iter()
            .map(|hash| StoredCode {
                hash,
                used_at: None,
            })
            .collect();
        self.codes.insert(user_id, codes);
        Ok(())
    }

    /// Marks used at `now` one unused code of the user whose hash is among `candidates`.
    fn consume(
        &mut self,
        user_id: UserId,
        candidates: &[SecretDigest],
        now: DateTime<Utc>,
    ) -> bool {
        self.codes
            .get_mut(&user_id)
            .and_then(|codes| {
                codes
                    .iter_mut()
                    .find(|code| code.used_at.is_none() && candidates.contains(&code.hash))
            })
            .is_some_and(|code| {
                code.used_at = Some(now);
                true
            })
    }

    /// How many unused codes the user has.
    fn remaining(&self, user_id: UserId) -> usize {
        self.codes.get(&user_id).map_or(0, |codes| {
            codes.iter().filter(|code| code.used_at.is_none()).count()
        })
    }
}

/// Backup codes in a [`MemoryDatabase`], or in a transaction's staged copy of them. The check
/// and the mark of `consume` happen under one lock (and every write under the database's
/// writer lock), so of concurrent uses of one code exactly one succeeds, also across
/// transactions.
pub struct MemoryBackupCodeRepository {
    scope: Scope,
}

impl MemoryBackupCodeRepository {
    /// No codes, in a database of its own; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The backup codes of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl BackupCodeRepository for MemoryBackupCodeRepository {
    async fn replace(&self, user_id: UserId, hashes: Vec<SecretDigest>) -> Result<(), PortError> {
        self.scope
            .write(|table: &mut BackupCodeTable, _| table.replace(user_id, hashes))
            .await
    }

    async fn consume(
        &self,
        user_id: UserId,
        candidates: &[SecretDigest],
    ) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut BackupCodeTable, now| table.consume(user_id, candidates, now))
            .await)
    }

    async fn remaining(&self, user_id: UserId) -> Result<u32, PortError> {
        let remaining = self
            .scope
            .read(|table: &BackupCodeTable| table.remaining(user_id))
            .await;
        Ok(u32::try_from(remaining).unwrap_or(u32::MAX))
    }

    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError> {
        let removed = self
            .scope
            .write(|table: &mut BackupCodeTable, _| {
                table.codes.remove(&user_id).map_or(0, |codes| codes.len())
            })
            .await;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
