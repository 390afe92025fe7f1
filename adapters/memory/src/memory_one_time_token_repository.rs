//! `MemoryOneTimeTokenRepository`: the `OneTimeTokenRepository` port in process memory,
//! outside or inside a memory transaction.

use std::{collections::HashMap, sync::Arc};

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, NewOneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, PortError, TokenPurpose,
    UserId,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// A token as kept.
#[derive(Debug, Clone)]
struct StoredToken {
    purpose: TokenPurpose,
    user_id: UserId,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl StoredToken {
    /// Whether it is unused and not expired at `now`.
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// Tokens in a map by hash: the rules of the port, shared by the plain repository and the
/// transaction-bound one.
#[derive(Debug, Clone, Default)]
pub(crate) struct OneTimeTokenTable {
    tokens: HashMap<OneTimeTokenHash, StoredToken>,
}

impl OneTimeTokenTable {
    /// Stores a new live token, unless its hash is already stored.
    fn issue(&mut self, token: &NewOneTimeToken) -> Result<(), PortError> {
        if self.tokens.contains_key(&token.hash) {
            return Err(PortError::Unexpected(anyhow!(
                "issuing a one-time token: the hash is already stored"
            )));
        }
        self.tokens.insert(
            token.hash,
            StoredToken {
                purpose: token.purpose,
                user_id: token.user_id,
                expires_at: token.expires_at.trunc_subsecs(6),
                used_at: None,
            },
        );
        Ok(())
    }

    /// Marks the token used at `now` if it is live with `purpose`; its user if it was.
    fn consume(
        &mut self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
        now: DateTime<Utc>,
    ) -> Option<UserId> {
        self.tokens
            .get_mut(hash)
            .filter(|token| token.purpose == purpose && token.is_live(now))
            .map(|token| {
                token.used_at = Some(now);
                token.user_id
            })
    }

    /// The user of the token with `hash` and `purpose`, if it is live at `now`.
    fn live_owner(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
        now: DateTime<Utc>,
    ) -> Option<UserId> {
        self.tokens
            .get(hash)
            .filter(|token| token.purpose == purpose && token.is_live(now))
            .map(|token| token.user_id)
    }

    /// Marks used at `now` every live token of `user_id` with `purpose`; how many.
    fn revoke_all(&mut self, user_id: UserId, purpose: TokenPurpose, now: DateTime<Utc>) -> u64 {
        let mut revoked = 0;
        for token in self.tokens.values_mut() {
            if token.user_id == user_id && token.purpose == purpose && token.is_live(now) {
                token.used_at = Some(now);
                revoked += 1;
            }
        }
        revoked
    }

    /// Deletes the tokens expired or used before `before`; how many.
    fn purge_expired(&mut self, before: DateTime<Utc>) -> u64 {
        let count = self.tokens.len();
        self.tokens.retain(|_, token| {
            !(token.expires_at < before || token.used_at.is_some_and(|used| used < before))
        });
        u64::try_from(count - self.tokens.len()).unwrap_or(u64::MAX)
    }
}

/// One-time tokens in a [`MemoryDatabase`], or in a transaction's staged copy of them. The
/// check and the mark of `consume` happen under one lock (and every write under the
/// database's writer lock), so of two concurrent consumes of one token exactly one succeeds,
/// also across transactions.
pub struct MemoryOneTimeTokenRepository {
    scope: Scope,
}

impl MemoryOneTimeTokenRepository {
    /// No tokens, in a database of its own; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The one-time tokens of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl OneTimeTokenRepository for MemoryOneTimeTokenRepository {
    async fn issue(&self, token: NewOneTimeToken) -> Result<(), PortError> {
        self.scope
            .write(|table: &mut OneTimeTokenTable, _| table.issue(&token))
            .await
    }

    async fn consume(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut OneTimeTokenTable, now| table.consume(purpose, hash, now))
            .await)
    }

    async fn live_owner(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError> {
        let now = self.scope.now();
        Ok(self
            .scope
            .read(|table: &OneTimeTokenTable| table.live_owner(purpose, hash, now))
            .await)
    }

    async fn revoke_all(&self, user_id: UserId, purpose: TokenPurpose) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut OneTimeTokenTable, now| table.revoke_all(user_id, purpose, now))
            .await)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut OneTimeTokenTable, _| table.purge_expired(before))
            .await)
    }
}
