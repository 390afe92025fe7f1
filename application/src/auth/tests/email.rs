//! E-mail verification links, their cooldown, and the jobs that mint and mail the links.

use super::*;

#[test]
fn the_verification_link_verifies_the_address_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let token = h.mailed_token("verify-email");
    let verify = || {
        block_on(h.accounts.verify_email.execute(VerifyEmailInput {
            token: token.clone(),
            request: from("203.0.113.1"),
        }))
    };
    verify().unwrap();
    let me = h.principal(&jane.tokens).unwrap();
    assert!(block_on(h.accounts.me.execute(&me)).unwrap().email_verified);
    assert!(matches!(verify(), Err(EmailTokenError::InvalidToken)));
    assert!(
        h.actions()
            .contains(&("user.email.verified".to_owned(), true))
    );
}

#[test]
fn a_verification_link_expires_after_a_day_and_an_earlier_one_stays_valid() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let first = h.mailed_token("verify-email");
    let me = h.principal(&jane.tokens).unwrap();
    h.advance(TimeDelta::minutes(1));
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    let second = h.mailed_token("verify-email");
    assert_ne!(first, second);
    h.advance(TimeDelta::hours(24) - TimeDelta::minutes(1));
    assert!(matches!(
        block_on(h.accounts.verify_email.execute(VerifyEmailInput {
            token: first,
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token: second,
        request: from("203.0.113.1"),
    }))
    .unwrap();
}

#[test]
fn send_verification_waits_for_the_cooldown_that_register_started() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    let me = h.principal(&jane.tokens).unwrap();
    let send = || {
        block_on(
            h.accounts
                .send_verification
                .execute(SendVerificationEmailInput {
                    principal: me.clone(),
                    request: from("203.0.113.1"),
                }),
        )
    };
    let Err(SendVerificationError::RateLimited(throttled)) = send() else {
        panic!("the cooldown holds");
    };
    assert_eq!(throttled.retry_after, Duration::from_mins(1));
    assert!(h.mails().is_empty());
    h.advance(TimeDelta::minutes(1));
    send().unwrap();
    assert_eq!(h.mails().len(), 1);
}

#[test]
fn a_verified_address_is_mailed_nothing() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let token = h.mailed_token("verify-email");
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    h.advance(TimeDelta::minutes(5));
    let me = h.principal(&jane.tokens).unwrap();
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert!(h.mails().is_empty());
}

#[test]
fn send_verification_after_the_cooldown_sends_and_starts_it_again() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    h.advance(TimeDelta::minutes(1));
    let me = h.principal(&jane.tokens).unwrap();
    // The cooldown runs from the last e-mail actually sent: none is held back here.
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert_eq!(h.mails().len(), 1);
    assert!(matches!(
        block_on(
            h.accounts
                .send_verification
                .execute(SendVerificationEmailInput {
                    principal: me.clone(),
                    request: from("203.0.113.1"),
                })
        ),
        Err(SendVerificationError::RateLimited(_))
    ));
}

#[test]
fn no_job_payload_holds_a_mailed_link() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let mut tokens = vec![h.mailed_token("verify-email")];
    h.advance(TimeDelta::minutes(1));
    let me = h.principal(&jane.tokens).unwrap();
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me,
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    tokens.push(h.mailed_token("verify-email"));
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    tokens.push(h.mailed_token("reset-password"));
    let payloads = h.payloads.lock().unwrap().clone();
    // The three mails, and the `user.registered` webhook event.
    assert_eq!(payloads.len(), 4, "{payloads:?}");
    for token in &tokens {
        for payload in &payloads {
            assert!(!payload.contains(token.as_str()), "{payload} holds {token}");
        }
    }
}

#[test]
fn the_verification_job_mails_nothing_to_an_account_gone_deactivated_or_verified() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let bob = h.register("bob@example.com", "bob");
    h.mails();
    let queue = |user_id| {
        block_on(
            h.queue
                .enqueue(MailEmailVerificationPayload { user_id }.into_job(8)),
        )
        .unwrap();
    };
    queue(UserId::from_uuid(uuid::Uuid::from_u128(42)));
    assert!(block_on(h.users.set_active(bob.user.id, false)).unwrap());
    queue(bob.user.id);
    assert!(block_on(h.users.set_email_verified(jane.user.id, true)).unwrap());
    queue(jane.user.id);
    assert!(
        h.mails().is_empty(),
        "the three jobs are done, mailing nothing"
    );
    assert_eq!(block_on(h.queue.counts()).unwrap().pending, 0);
}

#[test]
fn a_verification_mail_that_fails_to_send_is_retried_with_a_fresh_link() {
    let h = harness();
    h.sender
        .fail_next(SendError::Retryable(anyhow::anyhow!("the server is busy")));
    let jane = h.register("jane@example.com", "jane");
    let outcomes = h.run_jobs();
    // The mail fails; the `user.registered` webhook event queued with it runs.
    assert!(
        matches!(outcomes.as_slice(), [Err(JobFailure::Retryable(_)), Ok(())]),
        "{outcomes:?}"
    );
    // The run comes again once its lease runs out (the worker's retry, here): a new link.
    h.advance(TimeDelta::minutes(1));
    let token = h.mailed_token("verify-email");
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let me = h.principal(&jane.tokens).unwrap();
    assert!(block_on(h.accounts.me.execute(&me)).unwrap().email_verified);
}

#[test]
fn a_reset_mail_that_fails_to_send_is_retried_with_a_fresh_link() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    h.sender
        .fail_next(SendError::Retryable(anyhow::anyhow!("the server is busy")));
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let outcomes = h.run_jobs();
    assert!(
        matches!(outcomes.as_slice(), [Err(JobFailure::Retryable(_))]),
        "{outcomes:?}"
    );
    h.advance(TimeDelta::minutes(1));
    let token = h.mailed_token("reset-password");
    block_on(h.accounts.reset_password.execute(ResetPasswordInput {
        token,
        new_password: "a brand new passphrase".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(matches!(
        h.login("jane", "a brand new passphrase", "203.0.113.1"),
        Ok(LoginOutcome::SignedIn(_))
    ));
}
