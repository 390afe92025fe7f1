//! Sign-up: the account, its first session and its verification mail; refused fields and taken names.

use super::*;

#[test]
fn register_creates_the_account_starts_a_session_and_mails_the_verification_link() {
    let h = harness();
    let signed_in = h.register("Jane@Example.com", "jane");
    assert_eq!(signed_in.user.email.as_str(), "Jane@Example.com");
    assert!(!signed_in.user.email_verified);
    assert_eq!(signed_in.tokens.expires_in, 900);
    let principal = h.principal(&signed_in.tokens).unwrap();
    assert_eq!(principal.user_id, signed_in.user.id);
    assert_eq!(principal.amr, vec!["pwd".to_owned()]);

    let mails = h.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "Jane@Example.com");
    assert_eq!(mails[0].subject, "verify_email");
    assert!(
        mails[0]
            .text
            .starts_with("https://auth.example.com/verify-email?token=")
    );
    assert_eq!(h.actions(), vec![("user.registered".to_owned(), true)]);
}

#[test]
fn register_names_every_invalid_field_and_writes_nothing() {
    let h = harness();
    let result = block_on(h.accounts.register.execute(RegisterInput {
        email: "not-an-address".to_owned(),
        username: "!".to_owned(),
        password: "password".to_owned(),
        request: from("203.0.113.1"),
    }));
    let Err(RegisterError::Invalid(fields)) = result else {
        panic!("expected Invalid, got {result:?}");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field).collect();
    assert_eq!(names, ["email", "username", "password"]);
    assert!(block_on(h.users.list(None, 10, None)).unwrap().is_empty());
    assert!(h.mails().is_empty());
    assert!(h.actions().is_empty());
}

#[test]
fn register_refuses_a_taken_email_or_username_in_any_case() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let again = |email: &str, username: &str| {
        block_on(h.accounts.register.execute(RegisterInput {
            email: email.to_owned(),
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        again("JANE@example.com", "other"),
        Err(RegisterError::Conflict(twofa_domain::UniqueField::Email))
    ));
    assert!(matches!(
        again("other@example.com", "JANE"),
        Err(RegisterError::Conflict(twofa_domain::UniqueField::Username))
    ));
}
