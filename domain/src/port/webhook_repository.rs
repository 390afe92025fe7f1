//! The `WebhookRepository` port: webhook endpoints (users' own and admins' global ones) and
//! their deliveries, one delivery per endpoint and event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    DeliveryAttempt, NewWebhookDelivery, NewWebhookEndpoint, PortError, SealedSecret, UserId,
    WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointChange, WebhookEndpointId,
};

/// The largest page [`WebhookRepository::list_deliveries`] answers; a smaller limit than 1
/// counts as 1.
pub const DELIVERY_LIST_MAX_LIMIT: u32 = 200;

/// `limit` brought into 1–[`DELIVERY_LIST_MAX_LIMIT`], as every adapter applies it.
pub fn clamp_delivery_list_limit(limit: u32) -> u32 {
    limit.clamp(1, DELIVERY_LIST_MAX_LIMIT)
}

/// Where webhook endpoints and their deliveries are kept.
///
/// An endpoint has an owner (`Some(user)`) or is global (`None`, an admin's endpoint that
/// receives every user's events). The methods taking an `owner` answer only the endpoints of
/// exactly that owner: `Some(user)` only that user's, `None` only the global ones; the
/// worker's [`WebhookRepository::find_endpoint`] and [`WebhookRepository::find_delivery`]
/// answer any. A delivery belongs to its endpoint and goes with it (deleting the endpoint, or
/// its owner's account, deletes its deliveries). Times are kept to the microsecond.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else (an id already stored, a delivery for no
/// endpoint, an endpoint for no account).
#[async_trait]
pub trait WebhookRepository: Send + Sync + 'static {
    /// Stores a new endpoint, enabled, with no failures and no previous secret, stamped made
    /// at the clock's time; answers it.
    async fn add_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, PortError>;

    /// The endpoint `id` of `owner` (`None`: a global one), whatever its state.
    async fn get_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError>;

    /// The endpoint `id`, whoever's it is and whatever its state.
    async fn find_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError>;

    /// The endpoints of `owner` (`None`: the global ones), newest first, enabled or not.
    async fn list_endpoints(
        &self,
        owner: Option<UserId>,
    ) -> Result<Vec<WebhookEndpoint>, PortError>;

    /// The enabled endpoints that subscribe to `event_type` (see
    /// [`WebhookEndpoint::subscribes`]) among `user`'s own and every global one (`None`: the
    /// global ones only), oldest first.
    async fn subscribers(
        &self,
        user: Option<UserId>,
        event_type: &str,
    ) -> Result<Vec<WebhookEndpoint>, PortError>;

    /// Applies `change` to `owner`'s endpoint `id` (enabling it also clears its consecutive
    /// failures); answers the endpoint as changed, `None` when `owner` has no such endpoint.
    async fn update_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        change: WebhookEndpointChange,
    ) -> Result<Option<WebhookEndpoint>, PortError>;

    /// Makes `secret` the signing secret of `owner`'s endpoint `id`, keeping the current one as
    /// the previous secret until `previous_expires_at` (replacing an earlier previous one);
    /// answers the endpoint, `None` when `owner` has no such endpoint.
    async fn rotate_secret(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        secret: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<WebhookEndpoint>, PortError>;

    /// Deletes `owner`'s endpoint `id` and its deliveries; answers whether it existed.
    async fn delete_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<bool, PortError>;

    /// Records a delivery's final outcome on endpoint `id`, in one conditional write: a
    /// success clears its consecutive failures; a failure adds one, and disables the endpoint
    /// when they reach `disable_after` (0: never). Answers the endpoint after, `None` when
    /// there is no such endpoint.
    async fn record_endpoint_outcome(
        &self,
        id: WebhookEndpointId,
        succeeded: bool,
        disable_after: u32,
    ) -> Result<Option<WebhookEndpoint>, PortError>;

    /// Stores a new delivery, pending with no attempts, stamped made at the clock's time, and
    /// answers it; when the endpoint already has a delivery of the same `event_id`, stores
    /// nothing and answers that one as it stands (so fanning an event out again adds nothing).
    async fn add_delivery(
        &self,
        delivery: NewWebhookDelivery,
    ) -> Result<WebhookDelivery, PortError>;

    /// The delivery `id` of endpoint `endpoint_id`.
    async fn get_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError>;

    /// The delivery `id`, whichever endpoint's it is.
    async fn find_delivery(
        &self,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError>;

    /// The deliveries of endpoint `endpoint_id`, newest (greatest id) first, at most `limit`
    /// brought into 1–[`DELIVERY_LIST_MAX_LIMIT`]; `before` continues a listing with the
    /// deliveries whose ids sort before it (the last one of the previous page).
    async fn list_deliveries(
        &self,
        endpoint_id: WebhookEndpointId,
        limit: u32,
        before: Option<WebhookDeliveryId>,
    ) -> Result<Vec<WebhookDelivery>, PortError>;

    /// Records `attempt` on the pending delivery `id`, in one conditional write: one more
    /// attempt, its time and answer as the latest, and the status its outcome gives
    /// (`WillRetry` keeps it pending). Answers the delivery after, `None` when there is no
    /// such pending delivery (a delivered or failed one is left as it is).
    async fn record_attempt(
        &self,
        id: WebhookDeliveryId,
        attempt: DeliveryAttempt,
    ) -> Result<Option<WebhookDelivery>, PortError>;

    /// Makes the failed delivery `id` of endpoint `endpoint_id` pending again, for a retry by
    /// hand (its attempts and latest answer are kept); answers it, `None` when the endpoint
    /// has no such failed delivery.
    async fn reset_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError>;

    /// Deletes every delivery made before `before`, whatever its status; answers how many.
    async fn purge_deliveries(&self, before: DateTime<Utc>) -> Result<u64, PortError>;

    /// Up to `limit` endpoints, global and users' alike, whose secret, or whose previous
    /// secret while it still signs at the clock's time (see
    /// [`WebhookEndpoint::live_previous_secret`]), is sealed under a key other than
    /// `current_key_id`, in id order after `after` (for `twofa secrets rotate`). An expired
    /// previous secret alone does not list an endpoint: it never signs again.
    async fn endpoints_sealed_by_other_keys(
        &self,
        current_key_id: &str,
        after: Option<WebhookEndpointId>,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>, PortError>;

    /// Replaces the secret and the previous secret of endpoint `id`, whoever's it is, with
    /// `resealed` (secret, previous secret) if they are still `expected` (`None`: no previous
    /// secret stored); answers whether they were replaced. A compare-and-swap in one
    /// conditional write: a secret rotated, or resealed by someone else, since it was read
    /// leaves the endpoint as it is and answers `false`, as does an unknown id. The previous
    /// secret's expiry and everything else are kept; pass the stored previous secret again to
    /// keep it.
    async fn reseal_endpoint_secrets(
        &self,
        id: WebhookEndpointId,
        expected: (&SealedSecret, Option<&SealedSecret>),
        resealed: (SealedSecret, Option<SealedSecret>),
    ) -> Result<bool, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_page_holds_one_to_the_maximum() {
        assert_eq!(clamp_delivery_list_limit(0), 1);
        assert_eq!(clamp_delivery_list_limit(50), 50);
        assert_eq!(clamp_delivery_list_limit(10_000), DELIVERY_LIST_MAX_LIMIT);
    }
}
