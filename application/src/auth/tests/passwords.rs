//! Password change and reset, and the reset-mail job.

use super::*;

#[test]
fn a_password_change_keeps_the_calling_session_and_ends_the_others() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    let me = h.principal(&jane.tokens).unwrap();
    let change = |current: &str, new: &str| {
        block_on(h.accounts.change_password.execute(ChangePasswordInput {
            principal: me.clone(),
            current_password: current.to_owned(),
            new_password: new.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        change("wrong password", "a brand new passphrase"),
        Err(ChangePasswordError::InvalidCredentials)
    ));
    let Err(ChangePasswordError::Invalid(fields)) = change(PASSWORD, "short") else {
        panic!("a short password is refused");
    };
    assert_eq!(fields[0].field, "newPassword");
    change(PASSWORD, "a brand new passphrase").unwrap();
    assert!(h.principal(&jane.tokens).is_ok());
    assert!(h.principal(&other.tokens).is_err());
    assert!(matches!(
        h.login("jane", PASSWORD, "203.0.113.1"),
        Err(LoginError::InvalidCredentials)
    ));
    assert!(
        h.login("jane", "a brand new passphrase", "203.0.113.1")
            .is_ok()
    );
    assert!(
        h.actions()
            .contains(&("user.password.changed".to_owned(), false))
    );
    assert!(
        h.actions()
            .contains(&("user.password.changed".to_owned(), true))
    );
}

#[test]
fn forgot_password_answers_alike_and_mails_only_an_existing_account() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    let forgot = |email: &str| {
        block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
            email: email.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    forgot("nobody@example.com").unwrap();
    assert!(h.mails().is_empty());
    forgot("JANE@example.com").unwrap();
    let token = h.mailed_token("reset-password");
    assert_eq!(token.len(), 43);
    // A second request within the cooldown is answered alike and mails nothing.
    forgot("jane@example.com").unwrap();
    assert!(h.mails().is_empty());
}

#[test]
fn a_password_reset_ends_every_session_and_its_link_works_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    let reset = |password: &str| {
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: token.clone(),
            new_password: password.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    // A refused password does not use the link up.
    assert!(matches!(
        reset("password"),
        Err(EmailTokenError::Invalid(_))
    ));
    reset("a brand new passphrase").unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(matches!(
        reset("another new passphrase"),
        Err(EmailTokenError::InvalidToken)
    ));
    assert!(
        h.login("jane", "a brand new passphrase", "203.0.113.1")
            .is_ok()
    );
    assert!(
        h.actions()
            .contains(&("user.password.reset".to_owned(), true))
    );
}

#[test]
fn a_reset_link_expires_after_an_hour() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    h.advance(TimeDelta::hours(1));
    assert!(matches!(
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: token.clone(),
            new_password: "a brand new passphrase".to_owned(),
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
}

#[test]
fn an_unknown_reset_token_is_refused_before_any_hashing() {
    let h = harness();
    // Were the new password hashed, this overloaded pool would answer first.
    h.hasher.overload_next();
    assert!(matches!(
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: "A".repeat(43),
            new_password: "a brand new passphrase".to_owned(),
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
}

#[test]
fn forgot_password_does_the_same_work_for_any_address() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    let pending = || block_on(h.queue.counts()).unwrap().pending;
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "nobody@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(pending(), 1);
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(pending(), 2);
    // Only the worker tells them apart: one e-mail, to the account's address.
    let mails = h.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "jane@example.com");
    assert!(
        h.actions()
            .contains(&("user.password.reset_requested".to_owned(), true))
    );
}
