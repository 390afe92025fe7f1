//! `MemoryWebhookRepository`: the `WebhookRepository` port in process memory, outside or
//! inside a memory transaction.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, DeliveryAttempt, DeliveryStatus, NewWebhookDelivery, NewWebhookEndpoint, PortError,
    SealedSecret, UserId, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint,
    WebhookEndpointChange, WebhookEndpointId, WebhookRepository, clamp_delivery_list_limit,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// Endpoints and deliveries in maps by id: the rules of the port, shared by the plain
/// repository and the transaction-bound one. Times are kept to the microsecond, as the SQL
/// adapter stores them.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebhookTable {
    endpoints: HashMap<WebhookEndpointId, WebhookEndpoint>,
    deliveries: HashMap<WebhookDeliveryId, WebhookDelivery>,
}

impl WebhookTable {
    /// Stores `endpoint`, made at `now`, unless its id is already stored; answers it.
    fn add_endpoint(
        &mut self,
        endpoint: NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, PortError> {
        if self.endpoints.contains_key(&endpoint.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "adding a webhook endpoint: the id is already stored"
            )));
        }
        let made = WebhookEndpoint {
            id: endpoint.id,
            owner: endpoint.owner,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            enabled: true,
            consecutive_failures: 0,
            secret: endpoint.secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: now,
        };
        self.endpoints.insert(made.id, made.clone());
        Ok(made)
    }

    /// `owner`'s endpoint `id`.
    fn of_owner(&self, owner: Option<UserId>, id: WebhookEndpointId) -> Option<&WebhookEndpoint> {
        self.endpoints
            .get(&id)
            .filter(|endpoint| endpoint.owner == owner)
    }

    /// `owner`'s endpoint `id`, to change.
    fn of_owner_mut(
        &mut self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Option<&mut WebhookEndpoint> {
        self.endpoints
            .get_mut(&id)
            .filter(|endpoint| endpoint.owner == owner)
    }

    /// `owner`'s endpoints, newest first.
    fn list_endpoints(&self, owner: Option<UserId>) -> Vec<WebhookEndpoint> {
        let mut endpoints: Vec<WebhookEndpoint> = self
            .endpoints
            .values()
            .filter(|endpoint| endpoint.owner == owner)
            .cloned()
            .collect();
        endpoints.sort_by_key(|endpoint| Reverse((endpoint.created_at, endpoint.id)));
        endpoints
    }

    /// The enabled endpoints of `user` and the global ones subscribed to `event_type`, oldest
    /// first.
    fn subscribers(&self, user: Option<UserId>, event_type: &str) -> Vec<WebhookEndpoint> {
        let mut endpoints: Vec<WebhookEndpoint> = self
            .endpoints
            .values()
            .filter(|endpoint| endpoint.owner.is_none() || endpoint.owner == user)
            .filter(|endpoint| endpoint.subscribes(event_type))
            .cloned()
            .collect();
        endpoints.sort_by_key(|endpoint| (endpoint.created_at, endpoint.id));
        endpoints
    }

    /// Applies `change` to `owner`'s endpoint `id`; the endpoint as changed.
    fn update_endpoint(
        &mut self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        change: WebhookEndpointChange,
    ) -> Option<WebhookEndpoint> {
        let endpoint = self.of_owner_mut(owner, id)?;
        if let Some(url) = change.url {
            endpoint.url = url;
        }
        if let Some(events) = change.events {
            endpoint.events = events;
        }
        if let Some(description) = change.description {
            endpoint.description = description;
        }
        if let Some(enabled) = change.enabled {
            endpoint.enabled = enabled;
            if enabled {
                endpoint.consecutive_failures = 0;
            }
        }
        Some(endpoint.clone())
    }

    /// Makes `secret` current on `owner`'s endpoint `id`, the current one previous until
    /// `previous_expires_at`; the endpoint as rotated.
    fn rotate_secret(
        &mut self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        secret: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Option<WebhookEndpoint> {
        let endpoint = self.of_owner_mut(owner, id)?;
        endpoint.previous_secret = Some(std::mem::replace(&mut endpoint.secret, secret));
        endpoint.previous_secret_expires_at = Some(previous_expires_at);
        Some(endpoint.clone())
    }

    /// Deletes `owner`'s endpoint `id` and its deliveries; whether it existed.
    fn delete_endpoint(&mut self, owner: Option<UserId>, id: WebhookEndpointId) -> bool {
        if self.of_owner(owner, id).is_none() {
            return false;
        }
        self.deliveries
            .retain(|_, delivery| delivery.endpoint_id != id);
        self.endpoints.remove(&id).is_some()
    }

    /// Clears (success) or counts (failure) endpoint `id`'s consecutive failures, disabling
    /// it when they reach `disable_after` (0: never); the endpoint after.
    fn record_endpoint_outcome(
        &mut self,
        id: WebhookEndpointId,
        succeeded: bool,
        disable_after: u32,
    ) -> Option<WebhookEndpoint> {
        let endpoint = self.endpoints.get_mut(&id)?;
        if succeeded {
            endpoint.consecutive_failures = 0;
        } else {
            endpoint.consecutive_failures = endpoint.consecutive_failures.saturating_add(1);
            if disable_after > 0 && endpoint.consecutive_failures >= disable_after {
                endpoint.enabled = false;
            }
        }
        Some(endpoint.clone())
    }

    /// Stores `delivery`, made at `now`, unless its endpoint already has one of its event id
    /// (then answers that one); refuses an id already stored or an unknown endpoint.
    fn add_delivery(
        &mut self,
        delivery: NewWebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, PortError> {
        if let Some(existing) = self.deliveries.values().find(|existing| {
            existing.endpoint_id == delivery.endpoint_id && existing.event_id == delivery.event_id
        }) {
            return Ok(existing.clone());
        }
        if !self.endpoints.contains_key(&delivery.endpoint_id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "adding a webhook delivery: no such endpoint"
            )));
        }
        if self.deliveries.contains_key(&delivery.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "adding a webhook delivery: the id is already stored"
            )));
        }
        let made = WebhookDelivery {
            id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            payload: delivery.payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            response_status: None,
            duration_ms: None,
            response_body: None,
            created_at: now,
        };
        self.deliveries.insert(made.id, made.clone());
        Ok(made)
    }

    /// Endpoint `endpoint_id`'s delivery `id`.
    fn get_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Option<WebhookDelivery> {
        self.deliveries
            .get(&id)
            .filter(|delivery| delivery.endpoint_id == endpoint_id)
            .cloned()
    }

    /// Endpoint `endpoint_id`'s deliveries before `before`, newest first, at most `limit`.
    fn list_deliveries(
        &self,
        endpoint_id: WebhookEndpointId,
        limit: usize,
        before: Option<WebhookDeliveryId>,
    ) -> Vec<WebhookDelivery> {
        let mut deliveries: Vec<&WebhookDelivery> = self
            .deliveries
            .values()
            .filter(|delivery| delivery.endpoint_id == endpoint_id)
            .filter(|delivery| before.is_none_or(|before| delivery.id < before))
            .collect();
        deliveries.sort_by_key(|delivery| Reverse(delivery.id));
        deliveries.into_iter().take(limit).cloned().collect()
    }

    /// Records `attempt` on the pending delivery `id`; the delivery after.
    fn record_attempt(
        &mut self,
        id: WebhookDeliveryId,
        attempt: DeliveryAttempt,
    ) -> Option<WebhookDelivery> {
        let delivery = self
            .deliveries
            .get_mut(&id)
            .filter(|delivery| delivery.status == DeliveryStatus::Pending)?;
        delivery.attempts = delivery.attempts.saturating_add(1);
        delivery.last_attempt_at = Some(attempt.at.trunc_subsecs(6));
        delivery.response_status = attempt.response_status;
        delivery.duration_ms = Some(attempt.duration_ms);
        delivery.response_body = attempt.response_body;
        delivery.status = attempt.outcome.status();
        Some(delivery.clone())
    }

    /// Makes endpoint `endpoint_id`'s failed delivery `id` pending; the delivery after.
    fn reset_delivery(
        &mut self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Option<WebhookDelivery> {
        let delivery = self.deliveries.get_mut(&id).filter(|delivery| {
            delivery.endpoint_id == endpoint_id && delivery.status == DeliveryStatus::Failed
        })?;
        delivery.status = DeliveryStatus::Pending;
        Some(delivery.clone())
    }

    /// Deletes the deliveries made before `before`; how many.
    fn purge_deliveries(&mut self, before: DateTime<Utc>) -> u64 {
        let count = self.deliveries.len();
        self.deliveries
            .retain(|_, delivery| delivery.created_at >= before);
        u64::try_from(count - self.deliveries.len()).unwrap_or(u64::MAX)
    }

    /// Up to `limit` endpoints whose secret, or previous secret live at `now`, is sealed under
    /// another key than `current_key_id`, in id order after `after`.
    fn sealed_by_other_keys(
        &self,
        current_key_id: &str,
        after: Option<WebhookEndpointId>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Vec<WebhookEndpoint> {
        let mut endpoints: Vec<&WebhookEndpoint> = self
            .endpoints
            .values()
            .filter(|endpoint| after.is_none_or(|after| endpoint.id > after))
            .filter(|endpoint| {
                endpoint.secret.key_id != current_key_id
                    || endpoint
                        .live_previous_secret(now)
                        .is_some_and(|previous| previous.key_id != current_key_id)
            })
            .collect();
        endpoints.sort_by_key(|endpoint| endpoint.id);
        endpoints.into_iter().take(limit).cloned().collect()
    }

    /// Replaces endpoint `id`'s secret and previous secret with `resealed` if they are still
    /// `expected`; whether they were replaced.
    fn reseal_secrets(
        &mut self,
        id: WebhookEndpointId,
        expected: (&SealedSecret, Option<&SealedSecret>),
        resealed: (SealedSecret, Option<SealedSecret>),
    ) -> bool {
        self.endpoints
            .get_mut(&id)
            .filter(|endpoint| {
                &endpoint.secret == expected.0 && endpoint.previous_secret.as_ref() == expected.1
            })
            .is_some_and(|endpoint| {
                (endpoint.secret, endpoint.previous_secret) = resealed;
                true
            })
    }
}

/// Webhook endpoints and deliveries in a [`MemoryDatabase`], or in a transaction's staged
/// copy of them.
pub struct MemoryWebhookRepository {
    scope: Scope,
}

impl MemoryWebhookRepository {
    /// No endpoints, in a database of its own; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The webhooks of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl WebhookRepository for MemoryWebhookRepository {
    async fn add_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, PortError> {
        self.scope
            .write(|table: &mut WebhookTable, now| table.add_endpoint(endpoint, now))
            .await
    }

    async fn get_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.of_owner(owner, id).cloned())
            .await)
    }

    async fn find_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.endpoints.get(&id).cloned())
            .await)
    }

    async fn list_endpoints(
        &self,
        owner: Option<UserId>,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.list_endpoints(owner))
            .await)
    }

    async fn subscribers(
        &self,
        user: Option<UserId>,
        event_type: &str,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.subscribers(user, event_type))
            .await)
    }

    async fn update_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        change: WebhookEndpointChange,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.update_endpoint(owner, id, change))
            .await)
    }

    async fn rotate_secret(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        secret: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        let previous_expires_at = previous_expires_at.trunc_subsecs(6);
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| {
                table.rotate_secret(owner, id, secret, previous_expires_at)
            })
            .await)
    }

    async fn delete_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.delete_endpoint(owner, id))
            .await)
    }

    async fn record_endpoint_outcome(
        &self,
        id: WebhookEndpointId,
        succeeded: bool,
        disable_after: u32,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| {
                table.record_endpoint_outcome(id, succeeded, disable_after)
            })
            .await)
    }

    async fn add_delivery(
        &self,
        delivery: NewWebhookDelivery,
    ) -> Result<WebhookDelivery, PortError> {
        self.scope
            .write(|table: &mut WebhookTable, now| table.add_delivery(delivery, now))
            .await
    }

    async fn get_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.get_delivery(endpoint_id, id))
            .await)
    }

    async fn find_delivery(
        &self,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.deliveries.get(&id).cloned())
            .await)
    }

    async fn list_deliveries(
        &self,
        endpoint_id: WebhookEndpointId,
        limit: u32,
        before: Option<WebhookDeliveryId>,
    ) -> Result<Vec<WebhookDelivery>, PortError> {
        let limit = usize::try_from(clamp_delivery_list_limit(limit)).unwrap_or(usize::MAX);
        Ok(self
            .scope
            .read(|table: &WebhookTable| table.list_deliveries(endpoint_id, limit, before))
            .await)
    }

    async fn record_attempt(
        &self,
        id: WebhookDeliveryId,
        attempt: DeliveryAttempt,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.record_attempt(id, attempt))
            .await)
    }

    async fn reset_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.reset_delivery(endpoint_id, id))
            .await)
    }

    async fn purge_deliveries(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let before = before.trunc_subsecs(6);
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.purge_deliveries(before))
            .await)
    }

    async fn endpoints_sealed_by_other_keys(
        &self,
        current_key_id: &str,
        after: Option<WebhookEndpointId>,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let now = self.scope.now();
        Ok(self
            .scope
            .read(|table: &WebhookTable| {
                table.sealed_by_other_keys(current_key_id, after, limit, now)
            })
            .await)
    }

    async fn reseal_endpoint_secrets(
        &self,
        id: WebhookEndpointId,
        expected: (&SealedSecret, Option<&SealedSecret>),
        resealed: (SealedSecret, Option<SealedSecret>),
    ) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut WebhookTable, _| table.reseal_secrets(id, expected, resealed))
            .await)
    }
}
