//! The webhook events of the account and session flows: each change that records an action of
//! the webhook catalogue queues its `webhook.event` job in the transaction that commits the
//! change and its audit event, a failed check in the transaction that records the failure, and
//! no job carries a secret.

use super::*;
use crate::webhook_events::is_webhook_event;

impl Harness {
    /// What the last committed transaction that recorded `action` carried.
    fn committed_with(&self, action: &str) -> Committed {
        self.committed
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|committed| committed.actions.iter().any(|done| done == action))
            .cloned()
            .unwrap_or_else(|| panic!("no committed transaction recorded {action}"))
    }

    /// The `data` of the webhook event `action` about `user`, queued by the last committed
    /// transaction that recorded `action`, which carried it and nothing else of the catalogue.
    fn queued_with_its_event(&self, action: &str, user: Option<UserId>) -> serde_json::Value {
        let committed = self.committed_with(action);
        assert_eq!(committed.webhook_types(), [action], "{committed:?}");
        let event = &committed.webhook_events[0];
        assert_eq!(event.user_id, user, "{committed:?}");
        event.data.clone()
    }

    /// Every committed transaction queued the webhook events of exactly the audit events it
    /// recorded whose action is in the catalogue, in their order.
    fn assert_every_transaction_queued_its_webhook_events(&self) {
        for committed in self.committed.lock().unwrap().iter() {
            let expected: Vec<&str> = committed
                .actions
                .iter()
                .map(String::as_str)
                .filter(|action| is_webhook_event(action))
                .collect();
            assert_eq!(committed.webhook_types(), expected, "{committed:?}");
        }
    }

    fn refresh(&self, token: &str) -> Result<SignedIn, CredentialsError> {
        block_on(self.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    }

    fn logout(&self, token: &str) -> Result<(), CredentialsError> {
        block_on(self.accounts.logout.execute(LogoutInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    }
}

#[test]
fn registration_and_e_mail_verification_queue_their_webhook_events() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let data = h.queued_with_its_event("user.registered", Some(jane.user.id));
    assert_eq!(
        data,
        serde_json::json!({
            "email": jane.user.email.masked(),
            "username": "jane",
            "sessionId": jane.tokens.session_id.to_string(),
        })
    );
    // One commit: the account, its audit event, its mail job and its webhook event.
    assert_eq!(
        h.committed_with("user.registered").jobs,
        [MAIL_EMAIL_VERIFICATION, WEBHOOK_EVENT]
    );
    let token = h.mailed_token("verify-email");
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token: token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(
        h.queued_with_its_event("user.email.verified", Some(jane.user.id)),
        serde_json::json!({})
    );
    h.assert_every_transaction_queued_its_webhook_events();
    let types = h.webhook_event_types();
    assert_eq!(types, ["user.registered", "user.email.verified"]);
    for payload in h.payloads.lock().unwrap().iter() {
        assert!(!payload.contains(&token), "{payload}");
        assert!(!payload.contains(&jane.tokens.refresh_token), "{payload}");
        assert!(!payload.contains("jane@example.com"), "{payload}");
    }
}

#[test]
fn a_password_login_and_each_refused_one_queue_their_webhook_events() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let signed_in = h.signed_in("jane");
    let data = h.queued_with_its_event("user.login.succeeded", Some(jane.user.id));
    assert_eq!(
        data,
        serde_json::json!({
            "sessionId": signed_in.tokens.session_id.to_string(),
            "amr": ["pwd"],
        })
    );
    h.login("jane", "wrong password", "203.0.113.9")
        .unwrap_err();
    assert_eq!(
        h.queued_with_its_event("user.login.failed", Some(jane.user.id)),
        serde_json::json!({ "reason": "wrong_password" })
    );
    h.login("nobody", "wrong password", "203.0.113.9")
        .unwrap_err();
    assert_eq!(
        h.queued_with_its_event("user.login.failed", None),
        serde_json::json!({ "reason": "unknown_user" })
    );
    block_on(h.users.set_active(jane.user.id, false)).unwrap();
    h.login("jane", PASSWORD, "203.0.113.9").unwrap_err();
    assert_eq!(
        h.queued_with_its_event("user.login.failed", Some(jane.user.id)),
        serde_json::json!({ "reason": "disabled" })
    );
    h.assert_every_transaction_queued_its_webhook_events();
    let types = h.webhook_event_types();
    assert_eq!(
        types,
        [
            "user.registered",
            "user.login.succeeded",
            "user.login.failed",
            "user.login.failed",
            "user.login.failed",
        ]
    );
    for payload in h.payloads.lock().unwrap().iter() {
        assert!(!payload.contains(PASSWORD), "{payload}");
        assert!(!payload.contains("wrong password"), "{payload}");
        assert!(
            !payload.contains(&signed_in.tokens.refresh_token),
            "{payload}"
        );
        assert!(
            !payload.contains(&signed_in.tokens.access_token),
            "{payload}"
        );
    }
}

#[test]
fn the_failure_that_reaches_the_hard_limit_queues_the_failure_with_its_throttled_event() {
    let h = harness_with(
        AuthLimits {
            failures_per_account: "3/1h".parse().unwrap(),
            ..limits()
        },
        FakePasswordHasher::new(),
    );
    let jane = h.register("jane@example.com", "jane");
    for n in 0..3 {
        h.login("jane", "wrong password", &format!("198.51.100.{n}"))
            .unwrap_err();
    }
    // The third failure and the hard limit it reached are one transaction, which queues the
    // failure's webhook event (the throttled event is the audit trail's only).
    let committed = h.committed_with("security.login.throttled");
    assert_eq!(
        committed.actions,
        ["user.login.failed", "security.login.throttled"]
    );
    assert_eq!(committed.webhook_types(), ["user.login.failed"]);
    assert_eq!(committed.webhook_events[0].user_id, Some(jane.user.id));
    // The 429 that follows records and queues nothing.
    let before = h.committed.lock().unwrap().len();
    assert!(is_rate_limited(&h.login("jane", "wrong password", "198.51.100.9")).is_some());
    assert_eq!(h.committed.lock().unwrap().len(), before);
    h.assert_every_transaction_queued_its_webhook_events();
}

#[test]
fn a_password_change_reset_and_refused_change_queue_their_webhook_events() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.signed_in("jane");
    let change = |current: &str, new: &str| {
        block_on(h.accounts.change_password.execute(ChangePasswordInput {
            principal: h.principal(&jane.tokens).unwrap(),
            current_password: current.to_owned(),
            new_password: new.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        change("wrong password", "a brand new passphrase"),
        Err(ChangePasswordError::InvalidCredentials)
    ));
    assert_eq!(
        h.queued_with_its_event("user.password.changed", Some(jane.user.id)),
        serde_json::json!({ "reason": "wrong_password" })
    );
    change(PASSWORD, "a brand new passphrase").unwrap();
    assert_eq!(
        h.queued_with_its_event("user.password.changed", Some(jane.user.id)),
        serde_json::json!({ "endedSessions": 1 })
    );
    h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    block_on(h.accounts.reset_password.execute(ResetPasswordInput {
        token: token.clone(),
        new_password: "another new passphrase".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(
        h.queued_with_its_event("user.password.reset", Some(jane.user.id)),
        serde_json::json!({ "endedSessions": 1 })
    );
    // The reset link's request is no webhook event.
    assert!(
        h.committed_with("user.password.reset_requested")
            .webhook_events
            .is_empty()
    );
    h.assert_every_transaction_queued_its_webhook_events();
    let types = h.webhook_event_types();
    assert_eq!(
        types,
        [
            "user.registered",
            "user.login.succeeded",
            "user.password.changed",
            "user.password.changed",
            "user.password.reset",
        ]
    );
    for payload in h.payloads.lock().unwrap().iter() {
        for secret in [
            PASSWORD,
            "wrong password",
            "a brand new passphrase",
            "another new passphrase",
            &token,
        ] {
            assert!(!payload.contains(secret), "{payload} holds {secret}");
        }
    }
}

#[test]
fn ending_sessions_queues_session_revoked_and_a_reused_token_its_security_event() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let me = h.principal(&jane.tokens).unwrap();
    let other = h.signed_in("jane");
    block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
        principal: me.clone(),
        session_id: other.tokens.session_id,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(
        h.queued_with_its_event("session.revoked", Some(jane.user.id)),
        serde_json::json!({
            "sessionId": other.tokens.session_id.to_string(),
            "current": false,
        })
    );
    h.signed_in("jane");
    block_on(
        h.accounts
            .revoke_all_sessions
            .execute(RevokeAllSessionsInput {
                principal: me,
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert_eq!(
        h.queued_with_its_event("session.revoked", Some(jane.user.id)),
        serde_json::json!({ "all": true, "count": 2 })
    );

    // A refresh token reused past the grace, on a refresh and on a logout.
    for reuse in [Harness::refresh_and_drop, Harness::logout] {
        let session = h.signed_in("jane");
        h.refresh(&session.tokens.refresh_token).unwrap();
        h.advance(TimeDelta::seconds(11));
        assert!(matches!(
            reuse(&h, &session.tokens.refresh_token),
            Err(CredentialsError::Unauthorized)
        ));
        assert_eq!(
            h.queued_with_its_event("security.refresh_token_reuse", Some(jane.user.id)),
            serde_json::json!({ "sessionId": session.tokens.session_id.to_string() })
        );
    }

    // A plain logout is no webhook event; a refresh of a disabled account ends its session.
    let session = h.signed_in("jane");
    h.logout(&session.tokens.refresh_token).unwrap();
    assert!(h.committed_with("user.logout").webhook_events.is_empty());
    let session = h.signed_in("jane");
    block_on(h.users.set_active(jane.user.id, false)).unwrap();
    assert!(matches!(
        h.refresh(&session.tokens.refresh_token),
        Err(CredentialsError::Unauthorized)
    ));
    assert_eq!(
        h.queued_with_its_event("session.revoked", Some(jane.user.id)),
        serde_json::json!({
            "sessionId": session.tokens.session_id.to_string(),
            "reason": "account_unavailable",
        })
    );
    h.assert_every_transaction_queued_its_webhook_events();
    let types = h.webhook_event_types();
    for expected in ["session.revoked", "security.refresh_token_reuse"] {
        assert!(types.iter().any(|t| t == expected), "{expected}: {types:?}");
    }
    assert!(!types.iter().any(|t| t == "user.logout"), "{types:?}");
    for payload in h.payloads.lock().unwrap().iter() {
        assert!(
            !payload.contains(&session.tokens.refresh_token),
            "{payload}"
        );
    }
}

impl Harness {
    fn refresh_and_drop(&self, token: &str) -> Result<(), CredentialsError> {
        self.refresh(token).map(drop)
    }
}

#[test]
fn a_change_that_does_not_commit_queues_no_webhook_event() {
    let h = harness();
    let cut_off = CutOff::armed();
    cut_off.trip();
    let request = RequestInfo {
        cut_off,
        ..from("203.0.113.1")
    };
    let registered = block_on(h.accounts.register.execute(RegisterInput {
        email: "jane@example.com".to_owned(),
        username: "jane".to_owned(),
        password: PASSWORD.to_owned(),
        request,
    }));
    assert!(
        matches!(registered, Err(RegisterError::Fault(_))),
        "{registered:?}"
    );
    assert!(h.committed.lock().unwrap().is_empty());
    assert!(h.actions().is_empty());
    assert_eq!(block_on(h.queue.counts()).unwrap().pending, 0);
    assert!(h.webhook_event_types().is_empty());
}
