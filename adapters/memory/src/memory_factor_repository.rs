//! `MemoryFactorRepository`: the `FactorRepository` port in process memory, outside or inside
//! a memory transaction.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{
    Clock, Factor, FactorId, FactorKind, FactorRepository, NewFactor, PortError, SealedSecret,
    UserId,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// Factors in a map ordered by id: the rules of the port, shared by the plain repository and
/// the transaction-bound one.
#[derive(Debug, Clone, Default)]
pub(crate) struct FactorTable {
    factors: BTreeMap<FactorId, Factor>,
}

impl FactorTable {
    /// Replaces the user's pending factor of the kind with `factor`, created at `now`.
    fn add_pending(&mut self, factor: NewFactor, now: DateTime<Utc>) -> Result<(), PortError> {
        self.factors.retain(|_, stored| {
            !(stored.user_id == factor.user_id
                && stored.kind == factor.kind
                && !stored.is_enabled())
        });
        if self.factors.contains_key(&factor.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "adding a pending factor: the id {} is taken",
                factor.id
            )));
        }
        self.factors.insert(
            factor.id,
            Factor {
                id: factor.id,
                user_id: factor.user_id,
                kind: factor.kind,
                secret: factor.secret,
                destination: factor.destination,
                last_used_step: None,
                created_at: now,
                verified_at: None,
                last_used_at: None,
            },
        );
        Ok(())
    }

    /// The user's pending factor of `kind`.
    fn pending(&self, user_id: UserId, kind: FactorKind) -> Option<Factor> {
        self.factors
            .values()
            .filter(|f| f.user_id == user_id && f.kind == kind && !f.is_enabled())
            .max_by_key(|f| (f.created_at, f.id))
            .cloned()
    }

    /// Enables the pending factor `id` at `now`; whether it was pending.
    fn enable(&mut self, id: FactorId, last_used_step: Option<i64>, now: DateTime<Utc>) -> bool {
        self.factors
            .get_mut(&id)
            .filter(|factor| !factor.is_enabled())
            .is_some_and(|factor| {
                factor.verified_at = Some(now);
                factor.last_used_at = Some(now);
                factor.last_used_step = last_used_step;
                true
            })
    }

    /// The user's enabled factors, oldest first.
    fn enabled(&self, user_id: UserId) -> Vec<Factor> {
        let mut enabled: Vec<Factor> = self
            .factors
            .values()
            .filter(|f| f.user_id == user_id && f.is_enabled())
            .cloned()
            .collect();
        enabled.sort_by_key(|f| (f.created_at, f.id));
        enabled
    }

    /// Accepts `step` for the enabled factor `id` at `now` if it is later than the last one.
    fn advance_step(&mut self, id: FactorId, step: i64, now: DateTime<Utc>) -> bool {
        self.factors
            .get_mut(&id)
            .filter(|factor| {
                factor.is_enabled() && factor.last_used_step.is_none_or(|last| last < step)
            })
            .is_some_and(|factor| {
                factor.last_used_step = Some(step);
                factor.last_used_at = Some(now);
                true
            })
    }

    /// Stamps the enabled factor `id` used at `now`.
    fn mark_used(&mut self, id: FactorId, now: DateTime<Utc>) {
        if let Some(factor) = self.factors.get_mut(&id).filter(|f| f.is_enabled()) {
            factor.last_used_at = Some(now);
        }
    }

    /// Deletes the user's factor `id`; whether it existed.
    fn remove(&mut self, user_id: UserId, id: FactorId) -> bool {
        if self.factors.get(&id).is_some_and(|f| f.user_id == user_id) {
            self.factors.remove(&id);
            true
        } else {
            false
        }
    }

    /// Deletes the user's factors; how many.
    fn remove_all(&mut self, user_id: UserId) -> u64 {
        let count = self.factors.len();
        self.factors.retain(|_, factor| factor.user_id != user_id);
        u64::try_from(count - self.factors.len()).unwrap_or(u64::MAX)
    }

    /// Up to `limit` factors sealed under another key than `key_id`, in id order after `after`.
    fn sealed_by_other_keys(
        &self,
        key_id: &str,
        after: Option<FactorId>,
        limit: usize,
    ) -> Vec<Factor> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.factors
            .range((start, Bound::Unbounded))
            .map(|(_, factor)| factor)
            .filter(|f| f.secret.as_ref().is_some_and(|s| s.key_id != key_id))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Replaces the secret of `id` with `resealed` if it is still `current`.
    fn reseal(&mut self, id: FactorId, current: &SealedSecret, resealed: SealedSecret) -> bool {
        self.factors
            .get_mut(&id)
            .filter(|factor| factor.secret.as_ref() == Some(current))
            .is_some_and(|factor| {
                factor.secret = Some(resealed);
                true
            })
    }
}

/// Factors in a [`MemoryDatabase`], or in a transaction's staged copy of them. Each
/// conditional write checks and changes under one lock (and every write under the database's
/// writer lock), so of concurrent `enable`s or `advance_step`s exactly one succeeds, also
/// across transactions.
pub struct MemoryFactorRepository {
    scope: Scope,
}

impl MemoryFactorRepository {
    /// No factors, in a database of its own; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The factors of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl FactorRepository for MemoryFactorRepository {
    async fn add_pending(&self, factor: NewFactor) -> Result<(), PortError> {
        self.scope
            .write(|table: &mut FactorTable, now| table.add_pending(factor, now))
            .await
    }

    async fn pending(
        &self,
        user_id: UserId,
        kind: FactorKind,
    ) -> Result<Option<Factor>, PortError> {
        Ok(self
            .scope
            .read(|table: &FactorTable| table.pending(user_id, kind))
            .await)
    }

    async fn enable(&self, id: FactorId, last_used_step: Option<i64>) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut FactorTable, now| table.enable(id, last_used_step, now))
            .await)
    }

    async fn enabled(&self, user_id: UserId) -> Result<Vec<Factor>, PortError> {
        Ok(self
            .scope
            .read(|table: &FactorTable| table.enabled(user_id))
            .await)
    }

    async fn find(&self, user_id: UserId, id: FactorId) -> Result<Option<Factor>, PortError> {
        Ok(self
            .scope
            .read(|table: &FactorTable| {
                table
                    .factors
                    .get(&id)
                    .filter(|f| f.user_id == user_id)
                    .cloned()
            })
            .await)
    }

    async fn advance_step(&self, id: FactorId, step: i64) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut FactorTable, now| table.advance_step(id, step, now))
            .await)
    }

    async fn mark_used(&self, id: FactorId) -> Result<(), PortError> {
        self.scope
            .write(|table: &mut FactorTable, now| table.mark_used(id, now))
            .await;
        Ok(())
    }

    async fn remove(&self, user_id: UserId, id: FactorId) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut FactorTable, _| table.remove(user_id, id))
            .await)
    }

    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut FactorTable, _| table.remove_all(user_id))
            .await)
    }

    async fn sealed_by_other_keys(
        &self,
        key_id: &str,
        after: Option<FactorId>,
        limit: u32,
    ) -> Result<Vec<Factor>, PortError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self
            .scope
            .read(|table: &FactorTable| table.sealed_by_other_keys(key_id, after, limit))
            .await)
    }

    async fn reseal(
        &self,
        id: FactorId,
        current: &SealedSecret,
        resealed: SealedSecret,
    ) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut FactorTable, _| table.reseal(id, current, resealed))
            .await)
    }
}
