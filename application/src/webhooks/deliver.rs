//! The worker's side of webhooks. [`DispatchWebhookEvent`] runs a `webhook.event` job: it
//! stores one delivery per subscribed endpoint and event, and queues the first attempt of
//! each, all in one transaction (run again, it adds nothing: a delivery's `webhook-id` comes
//! from the job and the event's place in it). [`DeliverWebhook`] runs a `webhook.deliver` job:
//! one attempt at one delivery, signed with the endpoint's secret(s), and in one transaction
//! the attempt's record with either the next attempt's job (at the next delay of
//! `webhooks.retry_schedule`, with a little jitter) or the endpoint's outcome (failures in a
//! row disable it).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use twofa_domain::{
    Actor, AttemptOutcome, AuditDetails, ClaimedJob, Clock, DeliveryAttempt, DeliveryStatus,
    NewAuditEvent, NewJob, NewWebhookDelivery, SecretCipher, SecretGenerator, UnitOfWork,
    WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookRepository, WebhookRequest,
    WebhookSendError, WebhookSender, time_ordered_id,
};

use super::{secret_binding, signature::signature_header};
use crate::{
    webhook_events::{WEBHOOK_EVENT, WebhookEvents},
    worker::{JobFailure, JobHandler},
};

/// The job kind of one delivery attempt.
pub const WEBHOOK_DELIVER: &str = "webhook.deliver";

/// Runs of one attempt's job before it is buried: a worker that dies mid-attempt, or a
/// store that is down, gets it run again; the delivery's own retries are separate jobs.
const DELIVER_JOB_RUNS: u32 = 5;

/// How deliveries are retried and when an endpoint gives up (`webhooks.*`).
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// The wait before each retry; when it is spent the delivery is `failed`.
    pub retry_schedule: Vec<Duration>,
    /// Failed deliveries in a row after which the endpoint is disabled (0: never).
    pub disable_after_failures: u32,
}

/// What a `webhook.deliver` job carries: the delivery and which attempt this is. Never a
/// secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliverPayload {
    delivery_id: WebhookDeliveryId,
    attempt: u32,
}

/// The job of attempt `attempt` at `delivery`, not before `run_at`; `nonce` tells a manual
/// retry's job from an earlier one of the same attempt number.
pub(crate) fn deliver_job(
    delivery: WebhookDeliveryId,
    attempt: u32,
    run_at: Option<DateTime<Utc>>,
    nonce: Option<&str>,
) -> NewJob {
    let payload = json!(DeliverPayload {
        delivery_id: delivery,
        attempt,
    });
    let key = match nonce {
        Some(nonce) => format!("{WEBHOOK_DELIVER}:{delivery}:{attempt}:{nonce}"),
        None => format!("{WEBHOOK_DELIVER}:{delivery}:{attempt}"),
    };
    let job = NewJob::new(WEBHOOK_DELIVER, payload, DELIVER_JOB_RUNS).idempotency_key(key);
    match run_at {
        Some(at) => job.run_at(at),
        None => job,
    }
}

/// An event's `timestamp`: RFC 3339 in UTC, to the millisecond.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn retryable(error: impl Into<anyhow::Error>) -> JobFailure {
    JobFailure::Retryable(error.into())
}

/// Runs `webhook.event`: fans each event out to the enabled endpoints that subscribe to it
/// (its user's own and every global one).
pub struct DispatchWebhookEvent {
    webhooks: Arc<dyn WebhookRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl DispatchWebhookEvent {
    /// The handler over the endpoint store.
    pub fn new(
        webhooks: Arc<dyn WebhookRepository>,
        unit_of_work: Arc<dyn UnitOfWork>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            webhooks,
            unit_of_work,
            clock,
            ids,
        }
    }
}

#[async_trait]
impl JobHandler for DispatchWebhookEvent {
    fn kind(&self) -> &'static str {
        WEBHOOK_EVENT
    }

    async fn handle(&self, _payload: &serde_json::Value) -> Result<(), JobFailure> {
        Err(JobFailure::Permanent(anyhow::anyhow!(
            "a webhook event is fanned out from its claimed job"
        )))
    }

    async fn run(&self, job: &ClaimedJob) -> Result<(), JobFailure> {
        let events = WebhookEvents::from_payload(&job.payload).map_err(|error| {
            JobFailure::Permanent(anyhow::anyhow!("the payload does not parse: {error}"))
        })?;
        let now = self.clock.now();
        let mut planned = Vec::new();
        for (index, event) in events.events.iter().enumerate() {
            let endpoints = self
                .webhooks
                .subscribers(event.user_id, &event.event_type)
                .await
                .map_err(retryable)?;
            // A global endpoint hears every user: the data says whose event it is.
            let mut data = event.data.clone();
            if let (Some(user), Some(object)) = (event.user_id, data.as_object_mut()) {
                object
                    .entry("userId")
                    .or_insert_with(|| json!(user.to_string()));
            }
            for endpoint in endpoints {
                let id = WebhookDeliveryId::from_uuid(time_ordered_id(now, self.ids.as_ref()));
                planned.push(NewWebhookDelivery {
                    id,
                    endpoint_id: endpoint.id,
                    event_id: format!("msg_{}_{index}", job.id),
                    event_type: event.event_type.clone(),
                    payload: json!({
                        "type": event.event_type,
                        "timestamp": timestamp(job.created_at),
                        "data": data,
                    }),
                });
            }
        }
        if planned.is_empty() {
            return Ok(());
        }
        let mut transaction = self.unit_of_work.begin().await.map_err(retryable)?;
        for new in planned {
            let delivery = transaction
                .webhooks()
                .add_delivery(new)
                .await
                .map_err(retryable)?;
            if delivery.status == DeliveryStatus::Pending && delivery.attempts == 0 {
                transaction
                    .enqueue(deliver_job(delivery.id, 1, None, None))
                    .await
                    .map_err(retryable)?;
            }
        }
        transaction.commit().await.map_err(retryable)
    }
}

/// Runs `webhook.deliver`: one attempt at one delivery.
pub struct DeliverWebhook {
    webhooks: Arc<dyn WebhookRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    clock: Arc<dyn Clock>,
    jitter: Arc<dyn SecretGenerator>,
    cipher: Arc<dyn SecretCipher>,
    sender: Arc<dyn WebhookSender>,
    policy: DeliveryPolicy,
}

/// What one attempt came to.
struct Sent {
    status: Option<u16>,
    duration: Duration,
    body: Option<String>,
    delivered: bool,
    may_retry: bool,
}

impl DeliverWebhook {
    /// The handler sending with `sender`, following `policy`.
    pub fn new(
        ports: &super::WebhookPorts,
        sender: Arc<dyn WebhookSender>,
        policy: DeliveryPolicy,
    ) -> Self {
        Self {
            webhooks: ports.webhooks.clone(),
            unit_of_work: ports.unit_of_work.clone(),
            clock: ports.clock.clone(),
            jitter: ports.ids.clone(),
            cipher: ports.cipher.clone(),
            sender,
            policy,
        }
    }

    /// The signed request of `delivery` to `endpoint` at `now`.
    fn request(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<WebhookRequest, JobFailure> {
        let binding = secret_binding(endpoint.id);
        let mut keys = vec![
            self.cipher
                .open(&endpoint.secret, &binding)
                .map_err(retryable)?,
        ];
        if let Some(previous) = endpoint.live_previous_secret(now) {
            keys.push(self.cipher.open(previous, &binding).map_err(retryable)?);
        }
        let body = serde_json::to_vec(&delivery.payload).map_err(retryable)?;
        let timestamp = now.timestamp();
        let signature = signature_header(
            keys.iter().map(|key| key.as_slice()),
            &delivery.event_id,
            timestamp,
            &body,
        );
        Ok(WebhookRequest {
            url: endpoint.url.clone(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("webhook-id".to_owned(), delivery.event_id.clone()),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ],
            body,
        })
    }

    /// Sends `request` and reads what came of it.
    async fn send(&self, request: WebhookRequest) -> Sent {
        match self.sender.send(request).await {
            Ok(response) => Sent {
                status: Some(response.status),
                duration: response.duration,
                body: Some(response.body),
                delivered: (200..300).contains(&response.status),
                may_retry: true,
            },
            Err(WebhookSendError::Failed { reason, duration }) => Sent {
                status: None,
                duration,
                body: Some(reason),
                delivered: false,
                may_retry: true,
            },
            Err(WebhookSendError::Refused(reason)) => Sent {
                status: None,
                duration: Duration::ZERO,
                body: Some(format!("refused: {reason}")),
                delivered: false,
                may_retry: false,
            },
        }
    }

    /// The wait before retry number `retry` (1 for the first), a tenth shorter or longer at
    /// random; `None` when the schedule is spent.
    fn delay_before_retry(&self, retry: u32) -> Option<TimeDelta> {
        let index = usize::try_from(retry.checked_sub(1)?).ok()?;
        let nominal = *self.policy.retry_schedule.get(index)?;
        let mut byte = [0_u8; 1];
        self.jitter.fill_bytes(&mut byte);
        let factor = 0.9 + 0.2 * f64::from(byte[0]) / 255.0;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a configured delay of hours, far below i64 milliseconds"
        )]
        let millis = (nominal.as_secs_f64() * 1000.0 * factor).round() as i64;
        Some(TimeDelta::milliseconds(millis))
    }

    /// Records `attempt` with what follows it, in one transaction: the next attempt's job, or
    /// the endpoint's outcome (and, when that disables it, `webhook.disabled`).
    async fn record(
        &self,
        delivery: &WebhookDelivery,
        endpoint: &WebhookEndpoint,
        attempt: DeliveryAttempt,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), JobFailure> {
        let outcome = attempt.outcome;
        let mut transaction = self.unit_of_work.begin().await.map_err(retryable)?;
        let Some(recorded) = transaction
            .webhooks()
            .record_attempt(delivery.id, attempt)
            .await
            .map_err(retryable)?
        else {
            // Another run recorded this delivery's end first.
            return Ok(());
        };
        if let Some(at) = next {
            transaction
                .enqueue(deliver_job(
                    recorded.id,
                    recorded.attempts + 1,
                    Some(at),
                    None,
                ))
                .await
                .map_err(retryable)?;
        } else if endpoint.enabled {
            let after = transaction
                .webhooks()
                .record_endpoint_outcome(
                    endpoint.id,
                    outcome == AttemptOutcome::Delivered,
                    self.policy.disable_after_failures,
                )
                .await
                .map_err(retryable)?;
            // Audited once, by the failure that reached the limit: not by a later one finishing
            // after it, nor for an endpoint its owner disabled meanwhile.
            let limit = self.policy.disable_after_failures;
            if let Some(after) = after
                .filter(|after| !after.enabled && limit > 0 && after.consecutive_failures == limit)
            {
                transaction
                    .audit(NewAuditEvent {
                        user_id: endpoint.owner,
                        details: AuditDetails::new(json!({
                            "webhookId": endpoint.id.to_string(),
                            "consecutiveFailures": after.consecutive_failures,
                        })),
                        ..NewAuditEvent::new("webhook.disabled", Actor::system(), true)
                    })
                    .await
                    .map_err(retryable)?;
            }
        }
        transaction.commit().await.map_err(retryable)
    }
}

#[async_trait]
impl JobHandler for DeliverWebhook {
    fn kind(&self) -> &'static str {
        WEBHOOK_DELIVER
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: DeliverPayload = serde_json::from_value(payload.clone()).map_err(|error| {
            JobFailure::Permanent(anyhow::anyhow!("the payload does not parse: {error}"))
        })?;
        let Some(delivery) = self
            .webhooks
            .find_delivery(payload.delivery_id)
            .await
            .map_err(retryable)?
            // Pending, and this attempt not yet recorded: a run repeated after its attempt was
            // recorded (a lease that ran out as the worker finished) sends nothing again.
            .filter(|delivery| {
                delivery.status == DeliveryStatus::Pending && delivery.attempts < payload.attempt
            })
        else {
            return Ok(());
        };
        let Some(endpoint) = self
            .webhooks
            .find_endpoint(delivery.endpoint_id)
            .await
            .map_err(retryable)?
        else {
            return Ok(());
        };
        let at = self.clock.now();
        if !endpoint.enabled {
            let attempt = DeliveryAttempt {
                at,
                response_status: None,
                duration_ms: 0,
                response_body: Some("not sent: the endpoint is disabled".to_owned()),
                outcome: AttemptOutcome::Failed,
            };
            return self.record(&delivery, &endpoint, attempt, None).await;
        }
        let request = match self.request(&endpoint, &delivery, at) {
            Ok(request) => request,
            Err(error) => {
                // Retrying will not open it: the delivery fails (and can be retried by hand once
                // the key is back) instead of staying pending behind a buried job.
                tracing::warn!(webhook = %endpoint.id, error = ?error, "a delivery cannot be signed");
                let attempt = DeliveryAttempt {
                    at,
                    response_status: None,
                    duration_ms: 0,
                    response_body: Some(
                        "not sent: the signing secret cannot be opened (is the key that sealed \
                         it still in secrets.previous_keys?)"
                            .to_owned(),
                    ),
                    outcome: AttemptOutcome::Failed,
                };
                return self.record(&delivery, &endpoint, attempt, None).await;
            }
        };
        let sent = self.send(request).await;
        let next = if sent.delivered || !sent.may_retry {
            None
        } else {
            self.delay_before_retry(delivery.attempts + 1)
                .map(|delay| self.clock.now() + delay)
        };
        let outcome = match (sent.delivered, next) {
            (true, _) => AttemptOutcome::Delivered,
            (false, Some(_)) => AttemptOutcome::WillRetry,
            (false, None) => AttemptOutcome::Failed,
        };
        let attempt = DeliveryAttempt {
            at,
            response_status: sent.status,
            duration_ms: u64::try_from(sent.duration.as_millis()).unwrap_or(u64::MAX),
            response_body: sent.body,
            outcome,
        };
        self.record(&delivery, &endpoint, attempt, next).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use futures::executor::block_on;
    use twofa_crypto::{AesGcmSecretCipher, CipherKey};
    use twofa_domain::{AuditLog as _, UserId, WebhookEndpointId, WebhookResponse};
    use twofa_memory::{
        ManualClock, MemoryAuditLog, MemoryDatabase, MemoryJobQueue, MemoryUnitOfWork,
        SeededSecretGenerator,
    };

    use super::*;
    use crate::{
        auth::RequestInfo,
        webhooks::{CreateWebhookInput, EndpointScope, WebhookEndpoints, WebhookPorts},
    };

    /// A receiver that answers 500 and counts what reaches it.
    #[derive(Default)]
    struct Failing {
        sent: AtomicUsize,
        bodies: Mutex<Vec<Vec<u8>>>,
    }

    #[async_trait]
    impl WebhookSender for Failing {
        async fn send(&self, request: WebhookRequest) -> Result<WebhookResponse, WebhookSendError> {
            self.sent.fetch_add(1, Ordering::SeqCst);
            self.bodies.lock().unwrap().push(request.body);
            Ok(WebhookResponse {
                status: 500,
                body: String::new(),
                duration: Duration::from_millis(3),
            })
        }
    }

    /// The memory stores of one test: a global endpoint sealed under key `1`, the deliveries
    /// of `/test` sent to it, and a handler opening secrets with `opening_key`.
    struct Fixture {
        ports: WebhookPorts,
        audit: Arc<MemoryAuditLog>,
        endpoints: WebhookEndpoints,
        scope: EndpointScope,
        endpoint: WebhookEndpointId,
        receiver: Arc<Failing>,
        deliver: DeliverWebhook,
    }

    fn cipher(key: u8, ids: Arc<SeededSecretGenerator>) -> Arc<AesGcmSecretCipher> {
        Arc::new(AesGcmSecretCipher::new(
            CipherKey::from_bytes([key; 32]),
            [],
            ids,
        ))
    }

    fn fixture(opening_key: u8, policy: DeliveryPolicy) -> Fixture {
        let clock = Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let ids = Arc::new(SeededSecretGenerator::new(7));
        let database = MemoryDatabase::new(clock.clone());
        let queue = Arc::new(MemoryJobQueue::new(clock.clone(), ids.clone()));
        let audit = Arc::new(MemoryAuditLog::new(clock.clone(), ids.clone()));
        let ports = WebhookPorts {
            webhooks: database.webhooks(),
            unit_of_work: Arc::new(MemoryUnitOfWork::new(
                &database,
                queue.clone(),
                audit.clone(),
            )),
            clock: clock.clone(),
            ids: ids.clone(),
            cipher: cipher(1, ids.clone()),
        };
        let scope = EndpointScope::Global {
            admin: UserId::from_uuid(uuid::Uuid::from_u128(1)),
        };
        let endpoints = WebhookEndpoints::new(ports.clone(), false);
        let created = block_on(endpoints.create(
            scope,
            CreateWebhookInput {
                url: "https://hooks.example.com/x".to_owned(),
                events: vec!["*".to_owned()],
                description: None,
                request: RequestInfo::default(),
            },
        ))
        .unwrap();
        let receiver = Arc::new(Failing::default());
        let opening = WebhookPorts {
            cipher: cipher(opening_key, ids),
            ..ports.clone()
        };
        let deliver = DeliverWebhook::new(&opening, receiver.clone(), policy);
        Fixture {
            ports,
            audit,
            endpoints,
            scope,
            endpoint: created.endpoint.id,
            receiver,
            deliver,
        }
    }

    impl Fixture {
        /// A `webhook.test` delivery, pending.
        fn test_delivery(&self) -> WebhookDelivery {
            block_on(
                self.endpoints
                    .send_test(self.scope, self.endpoint, &RequestInfo::default()),
            )
            .unwrap()
        }

        fn run(&self, delivery: &WebhookDelivery, attempt: u32) {
            block_on(
                self.deliver
                    .handle(&json!({ "deliveryId": delivery.id, "attempt": attempt })),
            )
            .unwrap();
        }

        fn stored(&self, delivery: &WebhookDelivery) -> WebhookDelivery {
            block_on(self.ports.webhooks.find_delivery(delivery.id))
                .unwrap()
                .unwrap()
        }

        fn sent(&self) -> usize {
            self.receiver.sent.load(Ordering::SeqCst)
        }

        fn audited(&self, action: &str) -> usize {
            let page = block_on(self.audit.query(&twofa_domain::AuditQuery {
                limit: 200,
                ..twofa_domain::AuditQuery::all()
            }))
            .unwrap();
            page.items
                .iter()
                .filter(|event| event.event.action == action)
                .count()
        }
    }

    fn one_retry() -> DeliveryPolicy {
        DeliveryPolicy {
            retry_schedule: vec![Duration::from_mins(1)],
            disable_after_failures: 20,
        }
    }

    /// A run repeated after its attempt was recorded (its lease ran out just as the worker
    /// finished) sends nothing again and records nothing more.
    #[test]
    fn a_run_of_an_attempt_already_recorded_sends_nothing() {
        let fixture = fixture(1, one_retry());
        let delivery = fixture.test_delivery();
        fixture.run(&delivery, 1);
        assert_eq!(fixture.sent(), 1);
        fixture.run(&delivery, 1);
        assert_eq!(fixture.sent(), 1, "sent once");
        let stored = fixture.stored(&delivery);
        assert_eq!(stored.attempts, 1);
        assert_eq!(stored.status, DeliveryStatus::Pending);

        // The next attempt's own job still runs.
        fixture.run(&delivery, 2);
        assert_eq!(fixture.sent(), 2);
        let bodies = fixture.receiver.bodies.lock().unwrap();
        assert_eq!(bodies[0], bodies[1], "the same event each attempt");
    }

    /// A secret no key opens fails the delivery at once, saying why, instead of leaving it
    /// pending behind a buried job; nothing is sent.
    #[test]
    fn a_secret_that_cannot_be_opened_fails_the_delivery() {
        let fixture = fixture(2, one_retry());
        let delivery = fixture.test_delivery();
        fixture.run(&delivery, 1);
        assert_eq!(fixture.sent(), 0);
        let stored = fixture.stored(&delivery);
        assert_eq!(stored.status, DeliveryStatus::Failed);
        assert_eq!(stored.attempts, 1);
        assert!(
            stored
                .response_body
                .as_deref()
                .is_some_and(|body| body.contains("cannot be opened")),
            "{stored:?}"
        );
    }

    /// `webhook.disabled` is audited once, by the failure that reached the limit, not again by
    /// a delivery that was in flight and fails after it.
    #[test]
    fn the_disabling_failure_alone_is_audited() {
        let fixture = fixture(
            1,
            DeliveryPolicy {
                retry_schedule: Vec::new(),
                disable_after_failures: 1,
            },
        );
        let first = fixture.test_delivery();
        let second = fixture.test_delivery();
        let enabled = block_on(fixture.ports.webhooks.find_endpoint(fixture.endpoint))
            .unwrap()
            .unwrap();
        fixture.run(&first, 1);
        assert_eq!(fixture.audited("webhook.disabled"), 1);
        // The second was in flight when the first disabled the endpoint.
        let attempt = DeliveryAttempt {
            at: fixture.ports.clock.now(),
            response_status: Some(500),
            duration_ms: 3,
            response_body: None,
            outcome: AttemptOutcome::Failed,
        };
        block_on(fixture.deliver.record(&second, &enabled, attempt, None)).unwrap();
        assert_eq!(fixture.stored(&second).status, DeliveryStatus::Failed);
        assert_eq!(fixture.audited("webhook.disabled"), 1, "audited once");
    }
}
