//! The `FactorRepository` port: a user's second factors, pending and enabled, and the TOTP
//! replay guard (the last accepted time step, advanced by one atomic conditional write).

use async_trait::async_trait;

use crate::{Factor, FactorId, FactorKind, NewFactor, PortError, SealedSecret, UserId};

/// Where second factors are kept.
///
/// A user has at most one pending factor of each kind and at most one enabled factor of each
/// kind (the use cases keep the second rule; the repository keeps the first).
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else (a corrupt row, a duplicate id). Unknown ids are
/// not errors: they answer `None`, `false` or `0`.
#[async_trait]
pub trait FactorRepository: Send + Sync + 'static {
    /// Stores `factor` as pending, replacing (deleting) any pending factor of the same user and
    /// kind: a second setup before confirmation replaces the first.
    async fn add_pending(&self, factor: NewFactor) -> Result<(), PortError>;

    /// The user's pending factor of `kind`, if any.
    async fn pending(&self, user_id: UserId, kind: FactorKind)
    -> Result<Option<Factor>, PortError>;

    /// Confirms the pending factor `id`: sets `verified_at` and `last_used_at` to the clock's
    /// time and `last_used_step` to `last_used_step` (the step the confirming TOTP code used,
    /// so that code cannot sign in afterwards). Answers `false`, changing nothing, when `id` is
    /// not pending. One atomic conditional write: of concurrent confirmations exactly one
    /// answers `true`.
    async fn enable(&self, id: FactorId, last_used_step: Option<i64>) -> Result<bool, PortError>;

    /// The user's enabled factors, oldest first.
    async fn enabled(&self, user_id: UserId) -> Result<Vec<Factor>, PortError>;

    /// The user's factor `id`, pending or enabled (another user's answers `None`).
    async fn find(&self, user_id: UserId, id: FactorId) -> Result<Option<Factor>, PortError>;

    /// Accepts TOTP time step `step` for the enabled factor `id`: if its `last_used_step` is
    /// unset or below `step`, sets it to `step` and `last_used_at` to the clock's time and
    /// answers `true`; otherwise (the step, or a later one, was already accepted) changes
    /// nothing and answers `false`.
    ///
    /// One atomic conditional write: of any number of concurrent calls with the same step,
    /// over any number of handles or processes, exactly one answers `true`.
    async fn advance_step(&self, id: FactorId, step: i64) -> Result<bool, PortError>;

    /// Sets `last_used_at` of the enabled factor `id` to the clock's time (an SMS or e-mail
    /// code of it was accepted).
    async fn mark_used(&self, id: FactorId) -> Result<(), PortError>;

    /// Deletes the user's factor `id` (pending or enabled); answers whether it existed.
    async fn remove(&self, user_id: UserId, id: FactorId) -> Result<bool, PortError>;

    /// Deletes every factor of the user, pending and enabled; answers how many.
    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError>;

    /// Up to `limit` factors whose secret is sealed under a key other than `key_id`, in id
    /// order after `after` (for `twofa secrets rotate`).
    async fn sealed_by_other_keys(
        &self,
        key_id: &str,
        after: Option<FactorId>,
        limit: u32,
    ) -> Result<Vec<Factor>, PortError>;

    /// Replaces the secret of factor `id` with `resealed` if it is still `current`; answers
    /// whether it was replaced.
    async fn reseal(
        &self,
        id: FactorId,
        current: &SealedSecret,
        resealed: SealedSecret,
    ) -> Result<bool, PortError>;
}
