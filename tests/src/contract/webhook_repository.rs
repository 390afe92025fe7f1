//! The `WebhookRepository` contract: `add_endpoint` stamps the clock's time and answers the
//! endpoint enabled, with no failures and no previous secret; an id already stored is refused;
//! `get_endpoint`, `list_endpoints`, `update_endpoint`, `rotate_secret` and `delete_endpoint`
//! answer only the given owner's endpoints (a user's, or the global ones), `find_endpoint` any;
//! the list is newest first; `subscribers` are the enabled endpoints of the user and every
//! global one that list the type or `*`; `update_endpoint` changes only what it is given and
//! enabling clears the failures; `rotate_secret` keeps the secret before it with its expiry;
//! `record_endpoint_outcome` counts failures, disables at the limit and clears on success;
//! deleting an endpoint deletes its deliveries; `add_delivery` stores one delivery per
//! endpoint and event id and answers the stored one again; deliveries are found by endpoint
//! or by id and listed newest first in pages; `record_attempt` writes a pending delivery's
//! latest attempt and status; `reset_delivery` makes only a failed one pending; old
//! deliveries are purged; a conditional write stays atomic between two handles;
//! `endpoints_sealed_by_other_keys` lists, in id order and in pages, the endpoints whose secret
//! or live previous secret another key sealed, and `reseal_endpoint_secrets` replaces both
//! only while they are still the ones read.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use twofa_domain::{
    AttemptOutcome, Clock as _, DELIVERY_LIST_MAX_LIMIT, DeliveryAttempt, DeliveryStatus,
    NewWebhookDelivery, NewWebhookEndpoint, SealedSecret, UserId, WebhookDelivery,
    WebhookDeliveryId, WebhookEndpoint, WebhookEndpointChange, WebhookEndpointId,
    WebhookRepository,
};
use twofa_memory::ManualClock;

use super::user;

/// A backend under test.
#[async_trait]
pub trait WebhookRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where endpoints must
    /// belong to an existing account, the accounts [`user`]`(1)`–`user(3)` exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn WebhookRepository>, Arc<dyn WebhookRepository>);
}

/// The endpoint numbered `n`.
pub fn endpoint_id(n: u128) -> WebhookEndpointId {
    WebhookEndpointId::from_uuid(uuid::Uuid::from_u128(0xe000 + n))
}

/// The delivery numbered `n`; a greater `n` sorts after, as time-ordered ids do.
pub fn delivery_id(n: u128) -> WebhookDeliveryId {
    WebhookDeliveryId::from_uuid(uuid::Uuid::from_u128(0xd000 + n))
}

/// The sealed signing secret numbered `n`.
pub fn sealed(n: u8) -> SealedSecret {
    SealedSecret {
        key_id: format!("k{n}"),
        ciphertext: vec![n; 60],
    }
}

/// The owner `user(n)`, or none (a global endpoint) for 0.
fn owner(n: u128) -> Option<UserId> {
    (n != 0).then(|| user(n))
}

/// Endpoint `n` of `user(owner_n)` (global for 0), receiving `events`, with secret `n`.
pub fn new_endpoint(n: u8, owner_n: u128, events: &[&str]) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        id: endpoint_id(u128::from(n)),
        owner: owner(owner_n),
        url: format!("https://hooks{n}.example.com/twofa"),
        events: events.iter().map(|&event| event.to_owned()).collect(),
        description: Some(format!("Endpoint {n}")),
        secret: sealed(n),
    }
}

/// Delivery `n` of event `msg_<event_n>` (`user.registered`) to endpoint `endpoint_n`.
pub fn new_delivery(n: u8, endpoint_n: u8, event_n: u8) -> NewWebhookDelivery {
    NewWebhookDelivery {
        id: delivery_id(u128::from(n)),
        endpoint_id: endpoint_id(u128::from(endpoint_n)),
        event_id: format!("msg_{event_n}"),
        event_type: "user.registered".to_owned(),
        payload: json!({
            "type": "user.registered",
            "timestamp": "2026-11-25T10:00:00Z",
            "data": {"userId": format!("user-{event_n}"), "n": n, "nested": [1, 2.5, null]},
        }),
    }
}

/// An attempt at `at` ending in `outcome`, answered `status` with `body`.
fn attempt(
    at: DateTime<Utc>,
    status: Option<u16>,
    body: Option<&str>,
    outcome: AttemptOutcome,
) -> DeliveryAttempt {
    DeliveryAttempt {
        at,
        response_status: status,
        duration_ms: 120,
        response_body: body.map(str::to_owned),
        outcome,
    }
}

async fn one(
    backend: &dyn WebhookRepositoryBackend,
) -> (Arc<dyn WebhookRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (webhooks, _) = backend.open(clock.clone()).await;
    (webhooks, clock)
}

fn ids(endpoints: &[WebhookEndpoint]) -> Vec<WebhookEndpointId> {
    endpoints.iter().map(|endpoint| endpoint.id).collect()
}

fn delivery_ids(deliveries: &[WebhookDelivery]) -> Vec<WebhookDeliveryId> {
    deliveries.iter().map(|delivery| delivery.id).collect()
}

/// `add_endpoint` answers the endpoint as stored, made at the clock's time, enabled, with no
/// failures and no previous secret; `get_endpoint`, `find_endpoint` and `list_endpoints` (from
/// another handle too) answer the same, for a user's endpoint and a global one.
pub async fn add_endpoint_answers_the_stored_endpoint(backend: &dyn WebhookRepositoryBackend) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    clock.advance(TimeDelta::seconds(90) + TimeDelta::microseconds(250));
    let new = new_endpoint(1, 1, &["user.registered", "2fa.enabled"]);
    let added = webhooks.add_endpoint(new.clone()).await.unwrap();
    assert_eq!(
        added,
        WebhookEndpoint {
            id: new.id,
            owner: Some(user(1)),
            url: new.url,
            events: vec!["user.registered".to_owned(), "2fa.enabled".to_owned()],
            description: new.description,
            enabled: true,
            consecutive_failures: 0,
            secret: sealed(1),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: clock.now(),
        }
    );
    assert_eq!(
        other.get_endpoint(owner(1), endpoint_id(1)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        other.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(other.list_endpoints(owner(1)).await.unwrap(), [added]);

    let global = NewWebhookEndpoint {
        description: None,
        ..new_endpoint(2, 0, &["*"])
    };
    let added = webhooks.add_endpoint(global).await.unwrap();
    assert_eq!(
        (added.owner, added.events.as_slice(), &added.description),
        (None, &["*".to_owned()][..], &None)
    );
    assert_eq!(
        other.get_endpoint(None, endpoint_id(2)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        other.find_endpoint(endpoint_id(2)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(other.list_endpoints(None).await.unwrap(), [added]);
}

/// Times are answered to the microsecond, as every backend stores them: an endpoint's and a
/// delivery's creation, a rotation's expiry, an attempt's time; and the event types as given,
/// in their order.
pub async fn keeps_times_to_the_microsecond_and_events_as_given(
    backend: &dyn WebhookRepositoryBackend,
) {
    let (webhooks, clock) = one(backend).await;
    clock.advance(TimeDelta::nanoseconds(1_234_567));
    let micros = |n| super::start() + TimeDelta::microseconds(n);
    let events = ["2fa.enabled", "user.registered", "api_key.created"];
    let added = webhooks
        .add_endpoint(new_endpoint(1, 1, &events))
        .await
        .unwrap();
    assert_eq!(added.created_at, micros(1_234));
    assert_eq!(added.events, events);
    let expires_at = super::start() + TimeDelta::hours(24) + TimeDelta::nanoseconds(7_654_321);
    let rotated = webhooks
        .rotate_secret(owner(1), endpoint_id(1), sealed(2), expires_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rotated.previous_secret_expires_at,
        Some(super::start() + TimeDelta::hours(24) + TimeDelta::microseconds(7_654))
    );
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(rotated)
    );

    let delivery = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    assert_eq!(delivery.created_at, micros(1_234));
    let at = super::start() + TimeDelta::nanoseconds(9_876_543);
    let attempted = webhooks
        .record_attempt(
            delivery_id(1),
            attempt(at, Some(500), None, AttemptOutcome::WillRetry),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempted.last_attempt_at, Some(micros(9_876)));
    assert_eq!(
        webhooks.find_delivery(delivery_id(1)).await.unwrap(),
        Some(attempted)
    );
}

/// An endpoint id already stored is refused, whoever's; the stored endpoint stays.
pub async fn refuses_an_endpoint_id_already_stored(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    let first = webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    for owner_n in [1, 2, 0] {
        assert!(
            webhooks
                .add_endpoint(NewWebhookEndpoint {
                    url: "https://other.example.com".to_owned(),
                    ..new_endpoint(1, owner_n, &["*"])
                })
                .await
                .is_err(),
            "owner {owner_n}"
        );
    }
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(first)
    );
    assert!(webhooks.list_endpoints(owner(2)).await.unwrap().is_empty());
    assert!(webhooks.list_endpoints(None).await.unwrap().is_empty());
}

/// Another user's endpoint, a global one asked for as a user's, a user's one asked for as a
/// global one, or an unknown one, is not there for `get_endpoint`, `update_endpoint`,
/// `rotate_secret` or `delete_endpoint`, and none of them changes it; `find_endpoint` finds
/// every endpoint.
pub async fn answers_only_the_owners_endpoints(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    let mine = webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    let global = webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let expires_at = super::start() + TimeDelta::hours(24);
    for (owner_n, n) in [(2, 1), (0, 1), (1, 2), (2, 2), (1, 9), (0, 9)] {
        let (owner, id) = (owner(owner_n), endpoint_id(n));
        let context = format!("owner {owner_n}, endpoint {n}");
        assert_eq!(
            webhooks.get_endpoint(owner, id).await.unwrap(),
            None,
            "{context}"
        );
        let change = WebhookEndpointChange {
            url: Some("https://attacker.example.com".to_owned()),
            events: Some(vec!["*".to_owned()]),
            description: Some(None),
            enabled: Some(false),
        };
        assert_eq!(
            webhooks.update_endpoint(owner, id, change).await.unwrap(),
            None,
            "{context}"
        );
        assert_eq!(
            webhooks
                .update_endpoint(owner, id, WebhookEndpointChange::default())
                .await
                .unwrap(),
            None,
            "{context}"
        );
        assert_eq!(
            webhooks
                .rotate_secret(owner, id, sealed(8), expires_at)
                .await
                .unwrap(),
            None,
            "{context}"
        );
        assert!(
            !webhooks.delete_endpoint(owner, id).await.unwrap(),
            "{context}"
        );
    }
    assert!(webhooks.list_endpoints(owner(2)).await.unwrap().is_empty());
    assert_eq!(
        webhooks
            .get_endpoint(owner(1), endpoint_id(1))
            .await
            .unwrap(),
        Some(mine.clone())
    );
    assert_eq!(
        webhooks.get_endpoint(None, endpoint_id(2)).await.unwrap(),
        Some(global.clone())
    );
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(mine)
    );
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(2)).await.unwrap(),
        Some(global)
    );
    assert_eq!(webhooks.find_endpoint(endpoint_id(9)).await.unwrap(), None);
}

/// A user's endpoints, newest first, disabled ones included, without other users' or the
/// global ones; the global ones alone for no user.
pub async fn lists_an_owners_endpoints_newest_first(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    assert!(webhooks.list_endpoints(owner(1)).await.unwrap().is_empty());
    assert!(webhooks.list_endpoints(None).await.unwrap().is_empty());
    for (n, owner_n) in [(1, 1), (2, 0), (3, 1), (4, 2), (5, 0), (6, 1)] {
        webhooks
            .add_endpoint(new_endpoint(n, owner_n, &["*"]))
            .await
            .unwrap();
        clock.advance(TimeDelta::minutes(1));
    }
    let disable = WebhookEndpointChange {
        enabled: Some(false),
        ..WebhookEndpointChange::default()
    };
    webhooks
        .update_endpoint(owner(1), endpoint_id(3), disable)
        .await
        .unwrap()
        .unwrap();
    let listed = webhooks.list_endpoints(owner(1)).await.unwrap();
    assert_eq!(
        ids(&listed),
        [endpoint_id(6), endpoint_id(3), endpoint_id(1)]
    );
    assert!(!listed[1].enabled, "disabled, still listed");
    assert_eq!(
        ids(&webhooks.list_endpoints(owner(2)).await.unwrap()),
        [endpoint_id(4)]
    );
    assert_eq!(
        ids(&webhooks.list_endpoints(None).await.unwrap()),
        [endpoint_id(5), endpoint_id(2)]
    );
    assert!(webhooks.list_endpoints(owner(3)).await.unwrap().is_empty());
}

/// The subscribers of a user's event are the user's own enabled endpoints and every enabled
/// global one that list its type or `*`, oldest first; other users' endpoints and disabled
/// ones are left out; with no user, only global ones. A re-enabled endpoint subscribes again.
pub async fn subscribers_are_the_users_and_the_global_enabled_ones(
    backend: &dyn WebhookRepositoryBackend,
) {
    let (webhooks, clock) = one(backend).await;
    let registered = "user.registered";
    let endpoints: [(u8, u128, &[&str]); 9] = [
        (1, 1, &[registered]),
        (2, 0, &["2fa.enabled"]),
        (3, 1, &["*"]),
        (4, 1, &["2fa.enabled", registered]),
        (5, 1, &["2fa.enabled"]),
        (6, 2, &[registered, "*"]),
        (7, 0, &[registered]),
        (8, 1, &[registered]),
        (9, 0, &["*"]),
    ];
    for (n, owner_n, events) in endpoints {
        webhooks
            .add_endpoint(new_endpoint(n, owner_n, events))
            .await
            .unwrap();
        clock.advance(TimeDelta::seconds(1));
    }
    let disable = WebhookEndpointChange {
        enabled: Some(false),
        ..WebhookEndpointChange::default()
    };
    webhooks
        .update_endpoint(owner(1), endpoint_id(8), disable.clone())
        .await
        .unwrap()
        .unwrap();
    webhooks
        .update_endpoint(None, endpoint_id(9), disable)
        .await
        .unwrap()
        .unwrap();

    let subscribers = |user_n: u128, event_type: &'static str| {
        let webhooks = webhooks.clone();
        async move {
            ids(&webhooks
                .subscribers(owner(user_n), event_type)
                .await
                .unwrap())
        }
    };
    assert_eq!(
        subscribers(1, registered).await,
        [
            endpoint_id(1),
            endpoint_id(3),
            endpoint_id(4),
            endpoint_id(7)
        ]
    );
    assert_eq!(
        subscribers(1, "2fa.enabled").await,
        [
            endpoint_id(2),
            endpoint_id(3),
            endpoint_id(4),
            endpoint_id(5)
        ]
    );
    assert_eq!(
        subscribers(1, "device.trusted").await,
        [endpoint_id(3)],
        "only `*`"
    );
    assert_eq!(
        subscribers(2, registered).await,
        [endpoint_id(6), endpoint_id(7)]
    );
    assert_eq!(subscribers(3, registered).await, [endpoint_id(7)]);
    assert_eq!(subscribers(0, registered).await, [endpoint_id(7)]);
    assert_eq!(subscribers(0, "2fa.enabled").await, [endpoint_id(2)]);
    assert!(subscribers(0, "device.trusted").await.is_empty());
    let found = webhooks.subscribers(owner(1), registered).await.unwrap();
    assert_eq!(
        found[0],
        webhooks
            .get_endpoint(owner(1), endpoint_id(1))
            .await
            .unwrap()
            .unwrap(),
        "whole endpoints"
    );

    let enable = WebhookEndpointChange {
        enabled: Some(true),
        ..WebhookEndpointChange::default()
    };
    webhooks
        .update_endpoint(None, endpoint_id(9), enable)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        subscribers(3, "device.trusted").await,
        [endpoint_id(9)],
        "re-enabled"
    );
}

/// `update_endpoint` changes the URL, the event types, the description (set or removed) and
/// the enabled flag, each alone or together, and nothing else; an empty change answers the
/// endpoint as it is.
pub async fn update_changes_only_what_it_is_given(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    let added = webhooks
        .add_endpoint(new_endpoint(1, 1, &["user.registered"]))
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(5));
    let update = |change: WebhookEndpointChange| {
        let webhooks = webhooks.clone();
        async move {
            webhooks
                .update_endpoint(owner(1), endpoint_id(1), change)
                .await
                .unwrap()
                .unwrap()
        }
    };

    let expected = WebhookEndpoint {
        url: "https://new.example.com/hook".to_owned(),
        ..added.clone()
    };
    let changed = update(WebhookEndpointChange {
        url: Some(expected.url.clone()),
        ..WebhookEndpointChange::default()
    })
    .await;
    assert_eq!(changed, expected);

    let expected = WebhookEndpoint {
        events: vec!["2fa.enabled".to_owned(), "2fa.disabled".to_owned()],
        ..expected
    };
    let changed = update(WebhookEndpointChange {
        events: Some(expected.events.clone()),
        ..WebhookEndpointChange::default()
    })
    .await;
    assert_eq!(changed, expected);

    let expected = WebhookEndpoint {
        description: None,
        ..expected
    };
    let changed = update(WebhookEndpointChange {
        description: Some(None),
        ..WebhookEndpointChange::default()
    })
    .await;
    assert_eq!(changed, expected, "description removed");
    let expected = WebhookEndpoint {
        description: Some("Billing".to_owned()),
        ..expected
    };
    let changed = update(WebhookEndpointChange {
        description: Some(Some("Billing".to_owned())),
        ..WebhookEndpointChange::default()
    })
    .await;
    assert_eq!(changed, expected, "description set");

    let expected = WebhookEndpoint {
        enabled: false,
        ..expected
    };
    let changed = update(WebhookEndpointChange {
        enabled: Some(false),
        ..WebhookEndpointChange::default()
    })
    .await;
    assert_eq!(changed, expected, "disabled");

    assert_eq!(update(WebhookEndpointChange::default()).await, expected);

    let expected = WebhookEndpoint {
        url: "https://all.example.com".to_owned(),
        events: vec!["*".to_owned()],
        description: Some("All".to_owned()),
        enabled: true,
        ..expected
    };
    let changed = update(WebhookEndpointChange {
        url: Some(expected.url.clone()),
        events: Some(expected.events.clone()),
        description: Some(expected.description.clone()),
        enabled: Some(true),
    })
    .await;
    assert_eq!(changed, expected, "all at once");
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        (expected.secret, expected.created_at, expected.owner),
        (added.secret, added.created_at, added.owner)
    );
}

/// A global endpoint is updated by no owner, and only its fields change.
pub async fn update_changes_a_global_endpoint_by_no_owner(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    let global = webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let changed = webhooks
        .update_endpoint(
            None,
            endpoint_id(2),
            WebhookEndpointChange {
                url: Some("https://global.example.com".to_owned()),
                ..WebhookEndpointChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        changed,
        Some(WebhookEndpoint {
            url: "https://global.example.com".to_owned(),
            ..global
        }),
        "a global endpoint, by no owner"
    );
}

/// `record_endpoint_outcome` counts a failure, disables the endpoint when the failures reach
/// the limit (and not before), clears the count on a success without enabling, and answers
/// the endpoint after.
pub async fn outcomes_count_failures_and_disable_at_the_limit(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    let added = webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let outcome = |succeeded: bool, disable_after: u32| {
        let webhooks = webhooks.clone();
        async move {
            let endpoint = webhooks
                .record_endpoint_outcome(endpoint_id(1), succeeded, disable_after)
                .await
                .unwrap()
                .unwrap();
            (endpoint.consecutive_failures, endpoint.enabled)
        }
    };
    assert_eq!(outcome(false, 3).await, (1, true));
    assert_eq!(outcome(false, 3).await, (2, true));
    assert_eq!(outcome(true, 3).await, (0, true), "a success clears");
    assert_eq!(outcome(false, 3).await, (1, true));
    assert_eq!(outcome(false, 3).await, (2, true));
    let disabled = webhooks
        .record_endpoint_outcome(endpoint_id(1), false, 3)
        .await
        .unwrap();
    assert_eq!(
        disabled,
        Some(WebhookEndpoint {
            enabled: false,
            consecutive_failures: 3,
            ..added.clone()
        }),
        "the third failure in a row disables"
    );
    assert_eq!(
        other.get_endpoint(owner(1), endpoint_id(1)).await.unwrap(),
        disabled
    );
    assert_eq!(
        ids(&other
            .subscribers(owner(1), "user.registered")
            .await
            .unwrap()),
        [endpoint_id(2)],
        "a disabled endpoint subscribes to nothing"
    );
    assert_eq!(outcome(false, 3).await, (4, false), "still counted");
    assert_eq!(
        outcome(true, 3).await,
        (0, false),
        "a success does not enable"
    );
}

/// A limit of 0 never disables an endpoint, whatever its failures, and a later limit applies
/// to the count so far; an unknown endpoint is `None`.
pub async fn a_limit_of_zero_never_disables(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let untouched = webhooks
        .find_endpoint(endpoint_id(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (untouched.consecutive_failures, untouched.enabled),
        (0, true)
    );
    for expected in 1..=5 {
        let endpoint = webhooks
            .record_endpoint_outcome(endpoint_id(2), false, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (endpoint.consecutive_failures, endpoint.enabled),
            (expected, true),
            "a limit of 0 never disables"
        );
    }
    let endpoint = webhooks
        .record_endpoint_outcome(endpoint_id(2), false, 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (endpoint.consecutive_failures, endpoint.enabled),
        (6, false)
    );
    assert_eq!(
        webhooks
            .record_endpoint_outcome(endpoint_id(9), false, 1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        webhooks
            .record_endpoint_outcome(endpoint_id(9), true, 1)
            .await
            .unwrap(),
        None
    );
}

/// Enabling an endpoint (disabled by its failures, or already enabled) clears its failures;
/// disabling it keeps the count.
pub async fn enabling_clears_the_failures(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    for _ in 0..2 {
        webhooks
            .record_endpoint_outcome(endpoint_id(1), false, 2)
            .await
            .unwrap();
    }
    let set_enabled = |enabled: bool| {
        let webhooks = webhooks.clone();
        async move {
            let endpoint = webhooks
                .update_endpoint(
                    owner(1),
                    endpoint_id(1),
                    WebhookEndpointChange {
                        enabled: Some(enabled),
                        ..WebhookEndpointChange::default()
                    },
                )
                .await
                .unwrap()
                .unwrap();
            (endpoint.consecutive_failures, endpoint.enabled)
        }
    };
    let disabled = webhooks
        .find_endpoint(endpoint_id(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (disabled.consecutive_failures, disabled.enabled),
        (2, false)
    );
    assert_eq!(
        set_enabled(true).await,
        (0, true),
        "re-enabled by its owner"
    );

    webhooks
        .record_endpoint_outcome(endpoint_id(1), false, 5)
        .await
        .unwrap();
    assert_eq!(
        set_enabled(false).await,
        (1, false),
        "disabling keeps the count"
    );
    assert_eq!(set_enabled(true).await, (0, true));
    webhooks
        .record_endpoint_outcome(endpoint_id(1), false, 5)
        .await
        .unwrap();
    assert_eq!(
        set_enabled(true).await,
        (0, true),
        "enabling an enabled one"
    );
    let renamed = webhooks
        .update_endpoint(
            owner(1),
            endpoint_id(1),
            WebhookEndpointChange {
                url: Some("https://x.example.com".to_owned()),
                ..WebhookEndpointChange::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(renamed.enabled);
}

/// `rotate_secret` makes the new secret current and keeps the one before it as the previous
/// secret with the expiry given (a second rotation replaces the previous one), changing
/// nothing else.
pub async fn rotate_keeps_the_previous_secret_until_it_expires(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    let added = webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    clock.advance(TimeDelta::days(3));
    let expires_at = clock.now() + TimeDelta::hours(24);
    let rotated = webhooks
        .rotate_secret(owner(1), endpoint_id(1), sealed(11), expires_at)
        .await
        .unwrap();
    let expected = WebhookEndpoint {
        secret: sealed(11),
        previous_secret: Some(sealed(1)),
        previous_secret_expires_at: Some(expires_at),
        ..added
    };
    assert_eq!(rotated, Some(expected.clone()));
    assert_eq!(
        other.get_endpoint(owner(1), endpoint_id(1)).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(expected.live_previous_secret(clock.now()), Some(&sealed(1)));

    clock.advance(TimeDelta::hours(1));
    let later = clock.now() + TimeDelta::hours(24);
    let rotated = other
        .rotate_secret(owner(1), endpoint_id(1), sealed(12), later)
        .await
        .unwrap();
    let expected = WebhookEndpoint {
        secret: sealed(12),
        previous_secret: Some(sealed(11)),
        previous_secret_expires_at: Some(later),
        ..expected
    };
    assert_eq!(rotated, Some(expected.clone()));
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(expected)
    );

    let global = webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let rotated = webhooks
        .rotate_secret(None, endpoint_id(2), sealed(21), later)
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Some(WebhookEndpoint {
            secret: sealed(21),
            previous_secret: Some(sealed(2)),
            previous_secret_expires_at: Some(later),
            ..global
        }),
        "a global endpoint"
    );
}

/// `delete_endpoint` removes the owner's endpoint and its deliveries, answering whether there
/// was one; other endpoints' deliveries stay; the ids are free again.
pub async fn delete_removes_the_endpoint_and_its_deliveries(
    backend: &dyn WebhookRepositoryBackend,
) {
    let (webhooks, _) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(3, 0, &["*"]))
        .await
        .unwrap();
    for (n, endpoint_n) in [(1, 1), (2, 1), (3, 2), (4, 3)] {
        webhooks
            .add_delivery(new_delivery(n, endpoint_n, n))
            .await
            .unwrap();
    }
    assert!(
        webhooks
            .delete_endpoint(owner(1), endpoint_id(1))
            .await
            .unwrap()
    );
    assert!(
        !webhooks
            .delete_endpoint(owner(1), endpoint_id(1))
            .await
            .unwrap()
    );
    assert_eq!(webhooks.find_endpoint(endpoint_id(1)).await.unwrap(), None);
    for n in [1, 2] {
        assert_eq!(webhooks.find_delivery(delivery_id(n)).await.unwrap(), None);
    }
    assert!(
        webhooks
            .list_deliveries(endpoint_id(1), 50, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        delivery_ids(
            &webhooks
                .list_deliveries(endpoint_id(2), 50, None)
                .await
                .unwrap()
        ),
        [delivery_id(3)]
    );
    assert!(
        webhooks
            .delete_endpoint(None, endpoint_id(3))
            .await
            .unwrap(),
        "global"
    );
    assert_eq!(webhooks.find_delivery(delivery_id(4)).await.unwrap(), None);
    assert_eq!(
        ids(&webhooks.list_endpoints(owner(1)).await.unwrap()),
        [endpoint_id(2)]
    );

    webhooks
        .add_endpoint(new_endpoint(1, 2, &["*"]))
        .await
        .unwrap();
    let again = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    assert_eq!(
        (again.id, again.attempts, again.status),
        (delivery_id(1), 0, DeliveryStatus::Pending),
        "the ids are free again"
    );
}

/// `add_delivery` answers the delivery as stored: pending, no attempts, made at the clock's
/// time, its payload as given; `get_delivery`, `find_delivery` and `list_deliveries` (from
/// another handle too) answer the same.
pub async fn add_delivery_answers_the_stored_delivery(backend: &dyn WebhookRepositoryBackend) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(30));
    let new = new_delivery(1, 1, 1);
    let added = webhooks.add_delivery(new.clone()).await.unwrap();
    assert_eq!(
        added,
        WebhookDelivery {
            id: new.id,
            endpoint_id: new.endpoint_id,
            event_id: new.event_id,
            event_type: new.event_type,
            payload: new.payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            response_status: None,
            duration_ms: None,
            response_body: None,
            created_at: clock.now(),
        }
    );
    assert_eq!(
        other
            .get_delivery(endpoint_id(1), delivery_id(1))
            .await
            .unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        other.find_delivery(delivery_id(1)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        other
            .list_deliveries(endpoint_id(1), 50, None)
            .await
            .unwrap(),
        [added]
    );
}

/// A second delivery of the same event id to the same endpoint stores nothing and answers the
/// first as it stands (whatever the new one's id and payload); the same event id on another
/// endpoint is another delivery. A delivery for no endpoint, or with an id already stored for
/// another event, is refused.
pub async fn add_delivery_stores_one_delivery_per_endpoint_and_event(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    let first = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    let again = other
        .add_delivery(NewWebhookDelivery {
            payload: json!({"other": true}),
            event_type: "webhook.test".to_owned(),
            ..new_delivery(2, 1, 1)
        })
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(webhooks.find_delivery(delivery_id(2)).await.unwrap(), None);

    let attempted = webhooks
        .record_attempt(
            delivery_id(1),
            attempt(
                clock.now(),
                Some(503),
                Some("busy"),
                AttemptOutcome::WillRetry,
            ),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap(),
        attempted,
        "as it stands"
    );

    let elsewhere = webhooks.add_delivery(new_delivery(3, 2, 1)).await.unwrap();
    assert_eq!(
        (elsewhere.id, elsewhere.endpoint_id, elsewhere.attempts),
        (delivery_id(3), endpoint_id(2), 0)
    );
    assert_eq!(
        delivery_ids(
            &webhooks
                .list_deliveries(endpoint_id(1), 50, None)
                .await
                .unwrap()
        ),
        [delivery_id(1)]
    );

    assert!(
        webhooks.add_delivery(new_delivery(4, 9, 4)).await.is_err(),
        "no such endpoint"
    );
    assert!(
        webhooks.add_delivery(new_delivery(1, 1, 5)).await.is_err(),
        "the id of another event's delivery"
    );
    assert_eq!(webhooks.find_delivery(delivery_id(4)).await.unwrap(), None);
    assert_eq!(
        webhooks.find_delivery(delivery_id(1)).await.unwrap(),
        Some(attempted)
    );
}

/// `get_delivery` answers only a delivery of the endpoint given; `find_delivery` answers it
/// whichever endpoint's; an unknown id is not there.
pub async fn a_delivery_is_found_under_its_endpoint(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, _) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 1, &["*"]))
        .await
        .unwrap();
    let added = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    assert_eq!(
        webhooks
            .get_delivery(endpoint_id(2), delivery_id(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        webhooks
            .get_delivery(endpoint_id(1), delivery_id(9))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        webhooks
            .get_delivery(endpoint_id(1), delivery_id(1))
            .await
            .unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        webhooks.find_delivery(delivery_id(1)).await.unwrap(),
        Some(added)
    );
    assert_eq!(webhooks.find_delivery(delivery_id(9)).await.unwrap(), None);
    assert!(
        webhooks
            .list_deliveries(endpoint_id(2), 50, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// An endpoint's deliveries, newest (greatest id) first, in pages of `limit` (at least 1, at
/// most [`DELIVERY_LIST_MAX_LIMIT`]) continued `before` the last one; other endpoints'
/// deliveries are left out.
pub async fn lists_deliveries_newest_first_in_pages(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 1, &["*"]))
        .await
        .unwrap();
    for n in [3, 1, 5, 2, 4] {
        webhooks.add_delivery(new_delivery(n, 1, n)).await.unwrap();
        clock.advance(TimeDelta::seconds(1));
    }
    webhooks.add_delivery(new_delivery(6, 2, 6)).await.unwrap();
    let page = |limit: u32, before: Option<u128>| {
        let webhooks = webhooks.clone();
        async move {
            delivery_ids(
                &webhooks
                    .list_deliveries(endpoint_id(1), limit, before.map(delivery_id))
                    .await
                    .unwrap(),
            )
        }
    };
    let d = delivery_id;
    assert_eq!(page(50, None).await, [d(5), d(4), d(3), d(2), d(1)]);
    assert_eq!(page(2, None).await, [d(5), d(4)]);
    assert_eq!(page(2, Some(4)).await, [d(3), d(2)]);
    assert_eq!(page(2, Some(2)).await, [d(1)]);
    assert!(page(2, Some(1)).await.is_empty());
    assert_eq!(page(0, None).await, [d(5)], "a limit of 0 counts as 1");
    assert_eq!(page(50, Some(6)).await.len(), 5, "before a later id");
    assert_eq!(
        delivery_ids(
            &webhooks
                .list_deliveries(endpoint_id(2), 50, None)
                .await
                .unwrap()
        ),
        [d(6)]
    );

    for n in 0..u128::from(DELIVERY_LIST_MAX_LIMIT) {
        webhooks
            .add_delivery(NewWebhookDelivery {
                id: delivery_id(0x1000 + n),
                event_id: format!("bulk_{n}"),
                ..new_delivery(0, 2, 0)
            })
            .await
            .unwrap();
    }
    let all = webhooks
        .list_deliveries(endpoint_id(2), u32::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        usize::try_from(DELIVERY_LIST_MAX_LIMIT).unwrap(),
        "at most the maximum"
    );
    assert_eq!(all[0].id, delivery_id(0x1000 + 199));
}

/// `record_attempt` on a pending delivery adds one attempt, keeps its time and answer as the
/// latest (replacing the one before) and sets the status its outcome gives: `WillRetry` keeps
/// it pending, `Failed` finishes it, and a failed delivery is not written again (`None`).
pub async fn record_attempt_writes_a_pending_deliverys_latest_attempt(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    let added = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();

    clock.advance(TimeDelta::seconds(5));
    let first_at = clock.now();
    let retrying = webhooks
        .record_attempt(
            delivery_id(1),
            DeliveryAttempt {
                duration_ms: 10_001,
                ..attempt(
                    first_at,
                    Some(503),
                    Some("Service Unavailable"),
                    AttemptOutcome::WillRetry,
                )
            },
        )
        .await
        .unwrap();
    let expected = WebhookDelivery {
        status: DeliveryStatus::Pending,
        attempts: 1,
        last_attempt_at: Some(first_at),
        response_status: Some(503),
        duration_ms: Some(10_001),
        response_body: Some("Service Unavailable".to_owned()),
        ..added
    };
    assert_eq!(retrying, Some(expected.clone()));
    assert_eq!(
        other.find_delivery(delivery_id(1)).await.unwrap(),
        Some(expected.clone())
    );

    clock.advance(TimeDelta::minutes(5));
    let second_at = clock.now();
    let failed = other
        .record_attempt(
            delivery_id(1),
            attempt(second_at, None, None, AttemptOutcome::Failed),
        )
        .await
        .unwrap();
    let expected = WebhookDelivery {
        status: DeliveryStatus::Failed,
        attempts: 2,
        last_attempt_at: Some(second_at),
        response_status: None,
        duration_ms: Some(120),
        response_body: None,
        ..expected
    };
    assert_eq!(
        failed,
        Some(expected.clone()),
        "no answer replaces the last"
    );
    assert_eq!(
        webhooks
            .record_attempt(
                delivery_id(1),
                attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered),
            )
            .await
            .unwrap(),
        None,
        "failed"
    );
    assert_eq!(
        webhooks.find_delivery(delivery_id(1)).await.unwrap(),
        Some(expected)
    );
}

/// A delivered delivery keeps its answer and takes no more attempts; an unknown delivery is
/// not written.
pub async fn a_delivered_delivery_takes_no_more_attempts(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks.add_delivery(new_delivery(2, 1, 2)).await.unwrap();
    let delivered = webhooks
        .record_attempt(
            delivery_id(2),
            attempt(clock.now(), Some(204), Some(""), AttemptOutcome::Delivered),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            delivered.status,
            delivered.attempts,
            delivered.response_status,
            delivered.response_body.as_deref()
        ),
        (DeliveryStatus::Delivered, 1, Some(204), Some(""))
    );
    assert_eq!(
        webhooks
            .record_attempt(
                delivery_id(2),
                attempt(clock.now(), Some(500), None, AttemptOutcome::WillRetry),
            )
            .await
            .unwrap(),
        None,
        "delivered"
    );
    assert_eq!(
        webhooks.find_delivery(delivery_id(2)).await.unwrap(),
        Some(delivered)
    );
    assert_eq!(
        webhooks
            .record_attempt(
                delivery_id(9),
                attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered),
            )
            .await
            .unwrap(),
        None,
        "no such delivery"
    );
}

/// `reset_delivery` makes a failed delivery of the endpoint pending again, keeping its
/// attempts and latest answer, and answers it; a pending or delivered one, another endpoint's,
/// or an unknown one is `None` and unchanged. A reset delivery takes attempts again.
pub async fn reset_makes_only_a_failed_delivery_pending(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 1, &["*"]))
        .await
        .unwrap();
    let pending = webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    webhooks.add_delivery(new_delivery(2, 1, 2)).await.unwrap();
    webhooks.add_delivery(new_delivery(3, 1, 3)).await.unwrap();
    let delivered = webhooks
        .record_attempt(
            delivery_id(2),
            attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered),
        )
        .await
        .unwrap()
        .unwrap();
    let failed = webhooks
        .record_attempt(
            delivery_id(3),
            attempt(clock.now(), Some(410), Some("Gone"), AttemptOutcome::Failed),
        )
        .await
        .unwrap()
        .unwrap();

    let reset = |endpoint_n: u128, n: u128| {
        let webhooks = webhooks.clone();
        async move {
            webhooks
                .reset_delivery(endpoint_id(endpoint_n), delivery_id(n))
                .await
                .unwrap()
        }
    };
    assert_eq!(reset(1, 1).await, None, "pending");
    assert_eq!(reset(1, 2).await, None, "delivered");
    assert_eq!(reset(2, 3).await, None, "another endpoint's");
    assert_eq!(reset(1, 9).await, None, "unknown");
    assert_eq!(
        webhooks.find_delivery(delivery_id(1)).await.unwrap(),
        Some(pending)
    );
    assert_eq!(
        webhooks.find_delivery(delivery_id(2)).await.unwrap(),
        Some(delivered)
    );
    assert_eq!(
        webhooks.find_delivery(delivery_id(3)).await.unwrap(),
        Some(failed.clone()),
        "not reset under another endpoint"
    );

    let expected = WebhookDelivery {
        status: DeliveryStatus::Pending,
        ..failed
    };
    assert_eq!(reset(1, 3).await, Some(expected.clone()));
    assert_eq!(reset(1, 3).await, None, "pending again");
    assert_eq!(
        webhooks.find_delivery(delivery_id(3)).await.unwrap(),
        Some(expected)
    );
    let retried = webhooks
        .record_attempt(
            delivery_id(3),
            attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (DeliveryStatus::Delivered, 2)
    );
}

/// `purge_deliveries` deletes every delivery made before the time given, whatever its status
/// or endpoint, answering how many; those made at or after it stay.
pub async fn purge_deletes_the_deliveries_made_before(backend: &dyn WebhookRepositoryBackend) {
    let (webhooks, clock) = one(backend).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    webhooks
        .add_endpoint(new_endpoint(2, 0, &["*"]))
        .await
        .unwrap();
    webhooks.add_delivery(new_delivery(1, 1, 1)).await.unwrap();
    webhooks.add_delivery(new_delivery(2, 2, 2)).await.unwrap();
    webhooks
        .record_attempt(
            delivery_id(2),
            attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered),
        )
        .await
        .unwrap()
        .unwrap();
    clock.advance(TimeDelta::hours(1));
    let cut_off = clock.now();
    webhooks.add_delivery(new_delivery(3, 1, 3)).await.unwrap();
    clock.advance(TimeDelta::hours(1));
    webhooks.add_delivery(new_delivery(4, 2, 4)).await.unwrap();

    assert_eq!(webhooks.purge_deliveries(cut_off).await.unwrap(), 2);
    for n in [1, 2] {
        assert_eq!(webhooks.find_delivery(delivery_id(n)).await.unwrap(), None);
    }
    for n in [3, 4] {
        assert!(
            webhooks
                .find_delivery(delivery_id(n))
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(webhooks.purge_deliveries(cut_off).await.unwrap(), 0);
    assert_eq!(
        webhooks
            .find_endpoint(endpoint_id(1))
            .await
            .unwrap()
            .map(|e| e.id),
        Some(endpoint_id(1)),
        "endpoints stay"
    );
    assert_eq!(
        webhooks
            .purge_deliveries(clock.now() + TimeDelta::seconds(1))
            .await
            .unwrap(),
        2
    );
}

/// Of two handles recording failures at once, neither count is lost; of two recording an
/// attempt that finishes one pending delivery, exactly one writes; of two adding one event's
/// delivery at once, both answer the one stored.
pub async fn conditional_writes_happen_once(backend: &dyn WebhookRepositoryBackend) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    webhooks
        .add_endpoint(new_endpoint(1, 1, &["*"]))
        .await
        .unwrap();
    let (first, second) = futures::join!(
        webhooks.record_endpoint_outcome(endpoint_id(1), false, 2),
        other.record_endpoint_outcome(endpoint_id(1), false, 2),
    );
    let mut counts =
        [first, second].map(|endpoint| endpoint.unwrap().unwrap().consecutive_failures);
    counts.sort_unstable();
    assert_eq!(counts, [1, 2]);
    let after = webhooks
        .find_endpoint(endpoint_id(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.consecutive_failures, after.enabled), (2, false));

    let (first, second) = futures::join!(
        webhooks.add_delivery(new_delivery(1, 1, 1)),
        other.add_delivery(new_delivery(2, 1, 1)),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first, second);
    assert_eq!(
        webhooks
            .list_deliveries(endpoint_id(1), 50, None)
            .await
            .unwrap(),
        std::slice::from_ref(&first)
    );

    let done = attempt(clock.now(), Some(200), None, AttemptOutcome::Delivered);
    let (first_attempt, second_attempt) = futures::join!(
        webhooks.record_attempt(first.id, done.clone()),
        other.record_attempt(first.id, done),
    );
    let (first_attempt, second_attempt) = (first_attempt.unwrap(), second_attempt.unwrap());
    assert_eq!(
        [&first_attempt, &second_attempt]
            .iter()
            .filter(|delivery| delivery.is_some())
            .count(),
        1,
        "{first_attempt:?} {second_attempt:?}"
    );
    let stored = webhooks.find_delivery(first.id).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 1);
}

/// A signing secret numbered `n`, sealed under the key `key_id`.
fn sealed_under(key_id: &str, n: u8) -> SealedSecret {
    SealedSecret {
        key_id: key_id.to_owned(),
        ciphertext: vec![n; 48],
    }
}

/// Endpoint `n` of `user(owner_n)` (global for 0), its secret sealed under `key_id`.
fn endpoint_under(n: u8, owner_n: u128, key_id: &str) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        secret: sealed_under(key_id, n),
        ..new_endpoint(n, owner_n, &["*"])
    }
}

/// The endpoints, users' and global ones alike, whose secret or still-live previous secret is
/// sealed under another key than the current one, in id order, page by page; an expired
/// previous secret alone lists none.
pub async fn lists_endpoints_sealed_by_other_keys_in_id_order(
    backend: &dyn WebhookRepositoryBackend,
) {
    let (webhooks, clock) = one(backend).await;
    let soon = clock.now() + TimeDelta::hours(1);
    let later = clock.now() + TimeDelta::hours(24);
    for (n, owner_n, key_id) in [
        (5, 1, "old"),
        (2, 0, "older"),
        (3, 2, "current"),
        (4, 1, "old"),
        (6, 0, "old"),
        (1, 3, "current"),
    ] {
        webhooks
            .add_endpoint(endpoint_under(n, owner_n, key_id))
            .await
            .unwrap();
    }
    for (owner_n, n, expires_at) in [(1, 4_u8, later), (0, 6, soon), (3, 1, later)] {
        webhooks
            .rotate_secret(
                owner(owner_n),
                endpoint_id(u128::from(n)),
                sealed_under("current", n + 10),
                expires_at,
            )
            .await
            .unwrap()
            .unwrap();
    }
    let listed = |key_id: &'static str, after: Option<u128>, limit: u32| {
        let webhooks = webhooks.clone();
        async move {
            ids(&webhooks
                .endpoints_sealed_by_other_keys(key_id, after.map(endpoint_id), limit)
                .await
                .unwrap())
        }
    };
    let all = [2, 4, 5, 6].map(endpoint_id);
    assert_eq!(listed("current", None, 10).await, all);
    assert_eq!(listed("current", None, 2).await, all[..2]);
    assert_eq!(listed("current", Some(4), 2).await, all[2..]);
    assert!(listed("current", Some(6), 2).await.is_empty());
    assert_eq!(
        listed("old", None, 10).await,
        [1, 2, 3, 4, 6].map(endpoint_id),
        "by its secret, whatever its previous one"
    );
    let found = webhooks
        .endpoints_sealed_by_other_keys("current", None, 1)
        .await
        .unwrap();
    assert_eq!(
        found,
        [webhooks
            .find_endpoint(endpoint_id(2))
            .await
            .unwrap()
            .unwrap()],
        "the endpoints as stored"
    );

    clock.advance(TimeDelta::hours(2));
    assert_eq!(
        listed("current", None, 10).await,
        [2, 4, 5].map(endpoint_id),
        "endpoint 6's previous secret no longer signs"
    );
}

/// `reseal_endpoint_secrets` of endpoint `n` on `handle`, which must answer.
async fn reseal(
    handle: &dyn WebhookRepository,
    n: u128,
    expected: (&SealedSecret, Option<&SealedSecret>),
    resealed: (SealedSecret, Option<SealedSecret>),
) -> bool {
    handle
        .reseal_endpoint_secrets(endpoint_id(n), expected, resealed)
        .await
        .unwrap()
}

/// `reseal_endpoint_secrets` replaces both secrets, keeping the previous one's expiry and
/// everything else, only while both are still the ones read: a rotation or a reseal since
/// refuses it, as does another ciphertext under the same key, no previous secret expected
/// where one is stored or another one, and an unknown id.
pub async fn reseals_endpoint_secrets_only_while_they_are_stored(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock.clone()).await;
    webhooks
        .add_endpoint(endpoint_under(1, 1, "old"))
        .await
        .unwrap();
    let expires_at = clock.now() + TimeDelta::hours(24);
    let read = webhooks
        .rotate_secret(owner(1), endpoint_id(1), sealed_under("old", 2), expires_at)
        .await
        .unwrap()
        .unwrap();
    let previous = read.previous_secret.clone().unwrap();
    let new = || (sealed_under("new", 3), Some(sealed_under("new", 4)));
    for (expected, context) in [
        (
            (&sealed_under("old", 99), Some(&previous)),
            "another ciphertext",
        ),
        ((&read.secret, None), "a previous secret is stored"),
        (
            (&read.secret, Some(&read.secret)),
            "another previous secret",
        ),
    ] {
        assert!(!reseal(&*webhooks, 1, expected, new()).await, "{context}");
    }
    assert!(
        !reseal(&*webhooks, 9, (&read.secret, Some(&previous)), new()).await,
        "unknown"
    );
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(read.clone()),
        "unchanged"
    );

    assert!(reseal(&*webhooks, 1, (&read.secret, Some(&previous)), new()).await);
    let resealed = WebhookEndpoint {
        secret: sealed_under("new", 3),
        previous_secret: Some(sealed_under("new", 4)),
        ..read.clone()
    };
    assert_eq!(
        other.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(resealed.clone())
    );
    assert!(
        !reseal(&*other, 1, (&read.secret, Some(&previous)), new()).await,
        "already resealed"
    );

    // Rotated between the read and the reseal: the rotation stands.
    let rotated = other
        .rotate_secret(owner(1), endpoint_id(1), sealed_under("old", 5), expires_at)
        .await
        .unwrap()
        .unwrap();
    let stale = (&resealed.secret, resealed.previous_secret.as_ref());
    let newer = (sealed_under("newer", 6), Some(sealed_under("newer", 7)));
    assert!(!reseal(&*webhooks, 1, stale, newer).await, "rotated");
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(1)).await.unwrap(),
        Some(rotated)
    );
    assert_eq!(
        ids(&webhooks
            .endpoints_sealed_by_other_keys("new", None, 10)
            .await
            .unwrap()),
        [endpoint_id(1)],
        "rotated under the old key"
    );
}

/// A global endpoint with no previous secret is resealed only as having none; of two handles
/// resealing it at once, exactly one does, and its secret is the one stored.
pub async fn reseals_a_global_endpoint_once_between_two_handles(
    backend: &dyn WebhookRepositoryBackend,
) {
    let clock = super::clock();
    let (webhooks, other) = backend.open(clock).await;
    let global = webhooks
        .add_endpoint(endpoint_under(2, 0, "old"))
        .await
        .unwrap();
    let secret = &global.secret;
    assert!(
        !reseal(
            &*webhooks,
            2,
            (secret, Some(secret)),
            (sealed_under("new", 3), Some(sealed_under("new", 4)))
        )
        .await,
        "no previous secret is stored"
    );
    let (first, second) = futures::join!(
        reseal(
            &*webhooks,
            2,
            (secret, None),
            (sealed_under("new", 8), None)
        ),
        reseal(&*other, 2, (secret, None), (sealed_under("new", 9), None)),
    );
    assert!(first ^ second, "exactly one reseals: {first} {second}");
    assert_eq!(
        webhooks.find_endpoint(endpoint_id(2)).await.unwrap(),
        Some(WebhookEndpoint {
            secret: sealed_under("new", if first { 8 } else { 9 }),
            ..global.clone()
        })
    );
    assert!(
        webhooks
            .endpoints_sealed_by_other_keys("new", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Instantiates the `WebhookRepository` contract for `$backend` (an expression whose value
/// implements [`WebhookRepositoryBackend`]).
#[macro_export]
macro_rules! webhook_repository_contract {
    ($backend:expr) => {
        $crate::webhook_repository_contract!(@cases $backend;
            add_endpoint_answers_the_stored_endpoint,
            keeps_times_to_the_microsecond_and_events_as_given,
            refuses_an_endpoint_id_already_stored,
            answers_only_the_owners_endpoints,
            lists_an_owners_endpoints_newest_first,
            subscribers_are_the_users_and_the_global_enabled_ones,
            update_changes_only_what_it_is_given,
            update_changes_a_global_endpoint_by_no_owner,
            outcomes_count_failures_and_disable_at_the_limit,
            a_limit_of_zero_never_disables,
            enabling_clears_the_failures,
            rotate_keeps_the_previous_secret_until_it_expires,
            delete_removes_the_endpoint_and_its_deliveries,
            add_delivery_answers_the_stored_delivery,
            add_delivery_stores_one_delivery_per_endpoint_and_event,
            a_delivery_is_found_under_its_endpoint,
            lists_deliveries_newest_first_in_pages,
            record_attempt_writes_a_pending_deliverys_latest_attempt,
            a_delivered_delivery_takes_no_more_attempts,
            reset_makes_only_a_failed_delivery_pending,
            purge_deletes_the_deliveries_made_before,
            conditional_writes_happen_once,
            lists_endpoints_sealed_by_other_keys_in_id_order,
            reseals_endpoint_secrets_only_while_they_are_stored,
            reseals_a_global_endpoint_once_between_two_handles,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::webhook_repository::$case(&$backend).await;
            }
        )*
    };
}
