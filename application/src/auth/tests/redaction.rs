//! No secret in audit details or in `Debug` output.

use super::*;

#[test]
fn audit_details_keep_no_secret() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.login("jane", "wrong password", "203.0.113.9")
        .unwrap_err();
    let page = block_on(h.audit.query(&AuditQuery {
        limit: 200,
        ..AuditQuery::all()
    }))
    .unwrap();
    let text = format!("{:?}", page.items);
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains("wrong password"));
    assert!(!text.contains(&jane.tokens.refresh_token));
    assert!(!text.contains("jane@example.com"));
}

#[test]
fn secrets_are_redacted_from_debug_output() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let shown = format!("{jane:?}");
    assert!(!shown.contains(&jane.tokens.refresh_token));
    assert!(!shown.contains(&jane.tokens.access_token));
    let input = LoginInput {
        login: "jane".to_owned(),
        password: PASSWORD.to_owned(),
        device_token: None,
        request: RequestInfo::default(),
    };
    assert!(!format!("{input:?}").contains(PASSWORD));
    let me = h.principal(&jane.tokens).unwrap();
    let token = jane.tokens.refresh_token.clone();
    let request = RequestInfo::default;
    for shown in [
        format!(
            "{:?}",
            RefreshSessionInput {
                refresh_token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            LogoutInput {
                refresh_token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            VerifyEmailInput {
                token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            ResetPasswordInput {
                token: token.clone(),
                new_password: PASSWORD.to_owned(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            ChangePasswordInput {
                principal: me,
                current_password: PASSWORD.to_owned(),
                new_password: token.clone(),
                request: request(),
            }
        ),
    ] {
        assert!(!shown.contains(&token), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
