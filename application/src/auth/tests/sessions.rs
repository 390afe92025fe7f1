//! Refresh rotation and reuse, sign-out, the access token check, listing and revoking sessions.

use super::*;

#[test]
fn refresh_rotates_and_keeps_the_session() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::minutes(1));
    let next = block_on(h.accounts.refresh.execute(RefreshSessionInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_ne!(next.tokens.refresh_token, jane.tokens.refresh_token);
    assert_ne!(next.tokens.access_token, jane.tokens.access_token);
    assert_eq!(next.tokens.session_id, jane.tokens.session_id);
    assert_eq!(
        h.principal(&next.tokens).unwrap().session_id(),
        Some(jane.tokens.session_id)
    );
}

#[test]
fn a_rotated_token_within_the_grace_refreshes_the_same_session_again() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let refresh = |token: &str| {
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    let first = refresh(&jane.tokens.refresh_token).unwrap();
    h.advance(TimeDelta::seconds(5));
    let second = refresh(&jane.tokens.refresh_token).unwrap();
    assert_eq!(second.tokens.session_id, first.tokens.session_id);
    assert!(refresh(&first.tokens.refresh_token).is_ok());
}

#[test]
fn reusing_a_rotated_token_ends_the_whole_session_and_is_recorded() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let refresh = |token: &str| {
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    let next = refresh(&jane.tokens.refresh_token).unwrap();
    h.advance(TimeDelta::seconds(11));
    assert!(matches!(
        refresh(&jane.tokens.refresh_token),
        Err(CredentialsError::Unauthorized)
    ));
    // The whole family is dead: the newest refresh token and every access token.
    assert!(matches!(
        refresh(&next.tokens.refresh_token),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(matches!(
        h.principal(&next.tokens),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(
        h.actions()
            .contains(&("security.refresh_token_reuse".to_owned(), false))
    );
}

#[test]
fn malformed_and_unknown_refresh_tokens_are_unauthorized() {
    let h = harness();
    for token in ["", "short", &"A".repeat(43)] {
        assert!(matches!(
            block_on(h.accounts.refresh.execute(RefreshSessionInput {
                refresh_token: token.to_owned(),
                request: from("203.0.113.1"),
            })),
            Err(CredentialsError::Unauthorized)
        ));
    }
}

#[test]
fn logout_ends_that_session_only_and_its_access_token_fails_at_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    assert!(h.principal(&jane.tokens).is_ok());
    block_on(h.accounts.logout.execute(LogoutInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(matches!(
        h.principal(&jane.tokens),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.principal(&other.tokens).is_ok());
    assert!(matches!(
        block_on(h.accounts.logout.execute(LogoutInput {
            refresh_token: jane.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        })),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.actions().contains(&("user.logout".to_owned(), true)));
}

#[test]
fn an_access_token_fails_after_it_expires() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::minutes(15));
    assert!(matches!(
        h.principal(&jane.tokens),
        Err(CredentialsError::Unauthorized)
    ));
}

#[test]
fn sessions_are_listed_newest_first_with_the_current_one_marked_and_revoked_by_id() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::seconds(1));
    let second = h.signed_in("jane");
    let me = h.principal(&second.tokens).unwrap();
    let page = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 50,
        after: None,
    }))
    .unwrap();
    let listed: Vec<(SessionId, bool)> = page.items.iter().map(|(s, c)| (s.id, *c)).collect();
    assert_eq!(
        listed,
        vec![
            (second.tokens.session_id, true),
            (jane.tokens.session_id, false)
        ]
    );
    let first_page = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 1,
        after: None,
    }))
    .unwrap();
    assert_eq!(first_page.next, Some(second.tokens.session_id));
    let rest = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 1,
        after: first_page.next,
    }))
    .unwrap();
    assert_eq!(rest.items[0].0.id, jane.tokens.session_id);
    assert_eq!(rest.next, None);

    block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
        principal: me.clone(),
        session_id: jane.tokens.session_id,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(h.principal(&second.tokens).is_ok());
    assert!(matches!(
        block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
            principal: me.clone(),
            session_id: jane.tokens.session_id,
            request: from("203.0.113.1"),
        })),
        Err(RevokeSessionError::NotFound)
    ));
}

#[test]
fn another_users_session_is_not_found() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let john = h.register("john@example.com", "john");
    let me = h.principal(&john.tokens).unwrap();
    assert!(matches!(
        block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
            principal: me.clone(),
            session_id: jane.tokens.session_id,
            request: from("203.0.113.1"),
        })),
        Err(RevokeSessionError::NotFound)
    ));
    assert!(h.principal(&jane.tokens).is_ok());
}

#[test]
fn revoke_all_sessions_ends_every_session_including_the_current_one() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    let me = h.principal(&jane.tokens).unwrap();
    block_on(
        h.accounts
            .revoke_all_sessions
            .execute(RevokeAllSessionsInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(h.principal(&other.tokens).is_err());
    assert!(
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: other.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        }))
        .is_err()
    );
}

#[test]
fn logout_with_a_token_rotated_past_the_grace_ends_the_session_as_reuse() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let next = block_on(h.accounts.refresh.execute(RefreshSessionInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    h.advance(TimeDelta::seconds(11));
    assert!(matches!(
        block_on(h.accounts.logout.execute(LogoutInput {
            refresh_token: jane.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        })),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.principal(&next.tokens).is_err());
    assert!(
        h.actions()
            .contains(&("security.refresh_token_reuse".to_owned(), false))
    );
}
