//! `MemoryOneTimeTokenRepository`: the `OneTimeTokenRepository` port in process memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, NewOneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, PortError, TokenPurpose,
    UserId,
};

/// A token as kept.
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

/// Tokens in a map by hash. One lock covers the check and the mark in `consume`, so of two
/// concurrent consumes of one token exactly one succeeds.
pub struct MemoryOneTimeTokenRepository {
    tokens: Mutex<HashMap<OneTimeTokenHash, StoredToken>>,
    clock: Arc<dyn Clock>,
}

impl MemoryOneTimeTokenRepository {
    /// No tokens; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The clock's time to the microsecond, as the SQL databases keep it.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<OneTimeTokenHash, StoredToken>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl OneTimeTokenRepository for MemoryOneTimeTokenRepository {
    async fn issue(&self, token: NewOneTimeToken) -> Result<(), PortError> {
        let mut tokens = self.tokens();
        if tokens.contains_key(&token.hash) {
            return Err(PortError::Unexpected(anyhow!(
                "issuing a one-time token: the hash is already stored"
            )));
        }
        tokens.insert(
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

    async fn consume(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError> {
        let now = self.now();
        let mut tokens = self.tokens();
        Ok(tokens
            .get_mut(hash)
            .filter(|token| token.purpose == purpose && token.is_live(now))
            .map(|token| {
                token.used_at = Some(now);
                token.user_id
            }))
    }

    async fn is_live(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<bool, PortError> {
        let now = self.now();
        Ok(self
            .tokens()
            .get(hash)
            .is_some_and(|token| token.purpose == purpose && token.is_live(now)))
    }

    async fn revoke_all(&self, user_id: UserId, purpose: TokenPurpose) -> Result<u64, PortError> {
        let now = self.now();
        let mut revoked = 0;
        for token in self.tokens().values_mut() {
            if token.user_id == user_id && token.purpose == purpose && token.is_live(now) {
                token.used_at = Some(now);
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let mut tokens = self.tokens();
        let count = tokens.len();
        tokens.retain(|_, token| {
            !(token.expires_at < before || token.used_at.is_some_and(|used| used < before))
        });
        Ok(u64::try_from(count - tokens.len()).unwrap_or(u64::MAX))
    }
}
