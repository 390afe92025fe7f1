//! API keys: making, listing and changing them, and the per-request key check with its scopes,
//! expiry, revocation, rate limit and last-used stamp.

use twofa_domain::{ApiKeyId, ApiKeyToken, Scope};

use super::*;
use crate::api_keys::{ApiKeyError, CreateApiKeyInput, CreatedApiKey, UpdateApiKeyInput};

fn names(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|scope| (*scope).to_owned()).collect()
}

impl Harness {
    fn create_key(
        &self,
        user: UserId,
        scopes: &[&str],
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<CreatedApiKey, ApiKeyError> {
        block_on(self.api_keys.create.execute(CreateApiKeyInput {
            user_id: user,
            name: "deploy bot".to_owned(),
            scopes: names(scopes),
            expires_at,
            request: from("203.0.113.1"),
        }))
    }

    fn key_check(&self, key: &str, required: Option<Scope>) -> Result<Principal, CallerError> {
        block_on(self.api_keys.authenticate.execute(key, required))
    }
}

fn is_unauthorized(result: &Result<Principal, CallerError>) -> bool {
    matches!(result, Err(CallerError::Unauthorized))
}

#[test]
fn a_key_speaks_for_its_owner_on_the_routes_its_scopes_grant() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let created = h
        .create_key(jane.user.id, &["2fa:read", "audit:read"], None)
        .unwrap();
    let key = created.token.expose();
    assert!(key.starts_with("tfa_") && key.len() == 53, "{key}");
    assert_eq!(created.key.prefix, key[..12]);
    assert_eq!(
        created.key.scopes,
        vec![Scope::TwoFactorRead, Scope::AuditRead]
    );
    let principal = h.key_check(key, Some(Scope::TwoFactorRead)).unwrap();
    assert_eq!(principal.user_id, jane.user.id);
    assert_eq!(principal.api_key_id(), Some(created.key.id));
    assert_eq!(principal.session_id(), None);
    assert!(h.key_check(key, Some(Scope::AuditRead)).is_ok());
    assert!(matches!(
        h.key_check(key, Some(Scope::TwoFactorWrite)),
        Err(CallerError::InsufficientScope)
    ));
    assert!(matches!(
        h.key_check(key, None),
        Err(CallerError::InsufficientScope)
    ));
    let all = h.create_key(jane.user.id, &["*"], None).unwrap();
    for scope in Scope::ALL {
        h.advance(TimeDelta::minutes(1));
        assert!(
            h.key_check(all.token.expose(), Some(scope)).is_ok(),
            "{scope}"
        );
    }
    assert!(matches!(
        h.key_check(all.token.expose(), None),
        Err(CallerError::InsufficientScope)
    ));
}

#[test]
fn a_mistyped_made_up_revoked_deleted_or_expired_key_is_refused() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let scope = Some(Scope::UserRead);
    let created = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    let key = created.token.expose().to_owned();
    let mut mistyped = key.clone().into_bytes();
    mistyped[20] = if mistyped[20] == b'a' { b'b' } else { b'a' };
    assert!(is_unauthorized(
        &h.key_check(&String::from_utf8(mistyped).unwrap(), scope)
    ));
    let made_up = ApiKeyToken::from_random([9; 32]);
    assert!(is_unauthorized(&h.key_check(made_up.expose(), scope)));
    assert!(is_unauthorized(&h.key_check("not a key", scope)));

    block_on(
        h.api_keys
            .revoke
            .execute(jane.user.id, created.key.id, &from("203.0.113.1")),
    )
    .unwrap();
    assert!(is_unauthorized(&h.key_check(&key, scope)));

    let deleted = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    assert!(h.key_check(deleted.token.expose(), scope).is_ok());
    block_on(
        h.api_keys
            .delete
            .execute(jane.user.id, deleted.key.id, &from("203.0.113.1")),
    )
    .unwrap();
    assert!(is_unauthorized(&h.key_check(deleted.token.expose(), scope)));

    let expiring = h
        .create_key(
            jane.user.id,
            &["user:read"],
            Some(h.clock.now() + TimeDelta::hours(1)),
        )
        .unwrap();
    assert!(h.key_check(expiring.token.expose(), scope).is_ok());
    h.advance(TimeDelta::hours(1));
    assert!(is_unauthorized(
        &h.key_check(expiring.token.expose(), scope)
    ));
}

#[test]
fn a_disabled_or_deleted_owner_stops_every_key_at_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let created = h.create_key(jane.user.id, &["*"], None).unwrap();
    let key = created.token.expose();
    block_on(h.users.set_active(jane.user.id, false)).unwrap();
    assert!(is_unauthorized(&h.key_check(key, Some(Scope::UserRead))));
    block_on(h.users.set_active(jane.user.id, true)).unwrap();
    assert!(h.key_check(key, Some(Scope::UserRead)).is_ok());
    block_on(h.users.delete(jane.user.id)).unwrap();
    assert!(is_unauthorized(&h.key_check(key, Some(Scope::UserRead))));
}

#[test]
fn new_scopes_hold_from_the_next_check_and_a_rotation_retires_the_old_key() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let created = h.create_key(jane.user.id, &["2fa:read"], None).unwrap();
    let old = created.token.expose().to_owned();
    let updated = block_on(h.api_keys.update.execute(UpdateApiKeyInput {
        user_id: jane.user.id,
        id: created.key.id,
        name: Some("  ci  ".to_owned()),
        scopes: Some(names(&["2fa:write"])),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(updated.name, "ci");
    assert_eq!(updated.scopes, vec![Scope::TwoFactorWrite]);
    assert!(matches!(
        h.key_check(&old, Some(Scope::TwoFactorRead)),
        Err(CallerError::InsufficientScope)
    ));
    assert!(h.key_check(&old, Some(Scope::TwoFactorWrite)).is_ok());

    let rotated = block_on(h.api_keys.rotate.execute(
        jane.user.id,
        created.key.id,
        &from("203.0.113.1"),
    ))
    .unwrap();
    assert_eq!(rotated.key.id, created.key.id);
    assert_ne!(rotated.token.expose(), old);
    assert_eq!(rotated.key.prefix, rotated.token.expose()[..12]);
    assert_eq!(rotated.key.scopes, vec![Scope::TwoFactorWrite]);
    assert!(is_unauthorized(
        &h.key_check(&old, Some(Scope::TwoFactorWrite))
    ));
    assert!(
        h.key_check(rotated.token.expose(), Some(Scope::TwoFactorWrite))
            .is_ok()
    );

    block_on(
        h.api_keys
            .revoke
            .execute(jane.user.id, created.key.id, &from("203.0.113.1")),
    )
    .unwrap();
    assert!(matches!(
        block_on(
            h.api_keys
                .rotate
                .execute(jane.user.id, created.key.id, &from("203.0.113.1"))
        ),
        Err(ApiKeyError::Revoked)
    ));
}

#[test]
fn another_users_key_is_not_found_by_any_route() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let john = h.register("john@example.com", "john");
    let janes = h.create_key(jane.user.id, &["*"], None).unwrap().key.id;
    let request = from("203.0.113.1");
    let not_found = |result: Result<(), ApiKeyError>| {
        assert!(matches!(result, Err(ApiKeyError::NotFound)), "{result:?}");
    };
    not_found(block_on(h.api_keys.get.execute(john.user.id, janes)).map(drop));
    not_found(
        block_on(h.api_keys.update.execute(UpdateApiKeyInput {
            user_id: john.user.id,
            id: janes,
            name: Some("mine".to_owned()),
            scopes: None,
            request: request.clone(),
        }))
        .map(drop),
    );
    not_found(block_on(h.api_keys.rotate.execute(john.user.id, janes, &request)).map(drop));
    not_found(block_on(h.api_keys.revoke.execute(john.user.id, janes, &request)).map(drop));
    not_found(block_on(h.api_keys.delete.execute(
        john.user.id,
        janes,
        &request,
    )));
    not_found(
        block_on(
            h.api_keys
                .get
                .execute(jane.user.id, ApiKeyId::from_uuid(uuid::Uuid::from_u128(1))),
        )
        .map(drop),
    );
    assert!(
        block_on(h.api_keys.list.execute(john.user.id))
            .unwrap()
            .is_empty()
    );
    let listed = block_on(h.api_keys.list.execute(jane.user.id)).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].revoked_at.is_none(),
        "john's attempts changed nothing"
    );
}

#[test]
fn a_bad_name_scope_or_expiry_is_refused_and_makes_nothing() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let fields = |result: Result<CreatedApiKey, ApiKeyError>| match result {
        Err(ApiKeyError::Invalid(fields)) => fields.iter().map(|f| f.field).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let mut input = CreateApiKeyInput {
        user_id: jane.user.id,
        name: "   ".to_owned(),
        scopes: names(&["2fa:read", "admin"]),
        expires_at: Some(h.clock.now()),
        request: from("203.0.113.1"),
    };
    assert_eq!(
        fields(block_on(h.api_keys.create.execute(input.clone()))),
        ["name", "scopes", "expiresAt"]
    );
    input.name = "x".repeat(101);
    input.scopes = Vec::new();
    input.expires_at = None;
    assert_eq!(
        fields(block_on(h.api_keys.create.execute(input))),
        ["name", "scopes"]
    );
    assert!(
        block_on(h.api_keys.list.execute(jane.user.id))
            .unwrap()
            .is_empty()
    );
    assert!(
        !h.actions()
            .iter()
            .any(|(action, _)| action.starts_with("api_key."))
    );
}

#[test]
fn every_request_counts_against_the_keys_limit() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let created = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    let key = created.token.expose();
    let other = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    for _ in 0..4 {
        assert!(h.key_check(key, Some(Scope::UserRead)).is_ok());
    }
    assert!(matches!(
        h.key_check(key, Some(Scope::AuditRead)),
        Err(CallerError::InsufficientScope)
    ));
    match h.key_check(key, Some(Scope::UserRead)) {
        Err(CallerError::RateLimited(throttled)) => {
            assert_eq!(throttled.limit, 5);
            assert!(throttled.retry_after > Duration::ZERO);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.key_check(other.token.expose(), Some(Scope::UserRead))
            .is_ok(),
        "each key has a limit of its own"
    );
    h.advance(TimeDelta::minutes(1));
    assert!(h.key_check(key, Some(Scope::UserRead)).is_ok());
}

#[test]
fn the_last_use_is_stamped_at_most_once_a_minute() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let created = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    let last_used = || {
        block_on(h.api_keys.get.execute(jane.user.id, created.key.id))
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_used(), None);
    let first = h.clock.now();
    h.key_check(created.token.expose(), Some(Scope::UserRead))
        .unwrap();
    assert_eq!(last_used(), Some(first));
    h.advance(TimeDelta::seconds(59));
    h.key_check(created.token.expose(), Some(Scope::UserRead))
        .unwrap();
    assert_eq!(last_used(), Some(first));
    h.advance(TimeDelta::seconds(2));
    h.key_check(created.token.expose(), Some(Scope::UserRead))
        .unwrap();
    assert_eq!(last_used(), Some(h.clock.now()));
}

#[test]
fn each_change_is_audited_and_the_created_and_revoked_ones_queue_webhook_events() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.run_jobs();
    let request = from("203.0.113.1");
    let created = h.create_key(jane.user.id, &["user:read"], None).unwrap();
    let id = created.key.id;
    block_on(h.api_keys.update.execute(UpdateApiKeyInput {
        user_id: jane.user.id,
        id,
        name: Some("renamed".to_owned()),
        scopes: None,
        request: request.clone(),
    }))
    .unwrap();
    block_on(h.api_keys.rotate.execute(jane.user.id, id, &request)).unwrap();
    block_on(h.api_keys.revoke.execute(jane.user.id, id, &request)).unwrap();
    block_on(h.api_keys.revoke.execute(jane.user.id, id, &request)).unwrap();
    block_on(h.api_keys.delete.execute(jane.user.id, id, &request)).unwrap();
    let actions: Vec<String> = h
        .actions()
        .into_iter()
        .map(|(action, _)| action)
        .filter(|action| action.starts_with("api_key."))
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.created",
            "api_key.updated",
            "api_key.rotated",
            "api_key.revoked",
            "api_key.deleted"
        ]
    );
    h.run_jobs();
    let payloads = h.payloads.lock().unwrap().clone();
    let webhook_types: Vec<String> = payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<serde_json::Value>(payload).ok())
        .flat_map(|payload| {
            payload["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|event| event["type"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert_eq!(
        webhook_types,
        ["user.registered", "api_key.created", "api_key.revoked"]
    );
    for payload in &payloads {
        assert!(!payload.contains(created.token.expose()), "{payload}");
    }
}
