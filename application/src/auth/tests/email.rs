//! E-mail verification links and their cooldown.

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
