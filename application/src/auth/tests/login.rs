//! Password login: one answer for every failure, throttling and back-off, the hashing pool, rehashing.

use super::*;

#[test]
fn a_wrong_password_and_an_unknown_user_get_the_same_answer_at_the_same_cost() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let wrong = h.login("jane", "not the password", "203.0.113.9");
    let dummies_before = h.hasher.dummy_verifications();
    let unknown = h.login("nobody", "not the password", "203.0.113.9");
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
    assert!(matches!(unknown, Err(LoginError::InvalidCredentials)));
    assert_eq!(h.hasher.dummy_verifications(), dummies_before + 1);
    let failures: Vec<_> = h
        .actions()
        .into_iter()
        .filter(|(action, _)| action == "user.login.failed")
        .collect();
    assert_eq!(failures.len(), 2);
}

#[test]
fn a_disabled_account_answers_and_counts_like_a_wrong_password() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    block_on(h.users.set_active(jane.user.id, false)).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            h.login("jane", PASSWORD, "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    // The right password is no way to tell: the sixth attempt is throttled all the same.
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "203.0.113.9")).is_some());
    assert!(
        h.actions()
            .contains(&("user.login.failed".to_owned(), false))
    );
}

#[test]
fn login_accepts_the_email_or_the_username_in_any_case() {
    let h = harness();
    let jane = h.register("jane@example.com", "Jane");
    assert_eq!(h.signed_in("JANE@example.com").user.id, jane.user.id);
    assert_eq!(h.signed_in("jane").user.id, jane.user.id);
    assert!(
        h.actions()
            .contains(&("user.login.succeeded".to_owned(), true))
    );
}

#[test]
fn the_sixth_rapid_failure_for_an_account_from_one_address_is_throttled() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for _ in 0..5 {
        assert!(matches!(
            h.login("jane", "wrong password", "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    // Even the right password waits: the back-off is decided before the password is checked.
    let sixth = h.login("jane", PASSWORD, "203.0.113.9");
    let throttled = is_rate_limited(&sixth).expect("the sixth attempt is throttled");
    assert_eq!(throttled.retry_after, Duration::from_mins(15));
    // Another address is not held back by this one's failures.
    assert!(h.login("jane", PASSWORD, "198.51.100.4").is_ok());
}

#[test]
fn unknown_logins_are_throttled_like_known_ones() {
    let h = harness();
    for _ in 0..5 {
        assert!(h.login("nobody", "wrong password", "203.0.113.9").is_err());
    }
    assert!(is_rate_limited(&h.login("nobody", "wrong password", "203.0.113.9")).is_some());
}

#[test]
fn each_further_run_of_failures_backs_off_four_times_longer() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let fail = || h.login("jane", "wrong password", "203.0.113.9");
    for _ in 0..5 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
    // The sixth attempt is refused, and counts: hammering climbs the ladder.
    assert_eq!(
        is_rate_limited(&fail()).unwrap().retry_after,
        Duration::from_mins(15)
    );
    h.advance(TimeDelta::minutes(15));
    // The first rung's window ended; the second (10 per hour) holds 6 of its 10 attempts.
    for _ in 0..4 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
    let throttled = is_rate_limited(&fail()).expect("the second run is throttled");
    assert_eq!(throttled.retry_after, Duration::from_mins(45));
    // The right password after the wait works, and clears the counters.
    h.advance(TimeDelta::minutes(45));
    assert!(h.login("jane", PASSWORD, "203.0.113.9").is_ok());
    for _ in 0..5 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
}

#[test]
fn concurrent_guesses_cannot_slip_past_the_limit() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let guesses = (0..20).map(|_| {
        h.accounts.login.execute(LoginInput {
            login: "jane".to_owned(),
            password: "wrong password".to_owned(),
            device_token: None,
            request: from("203.0.113.9"),
        })
    });
    let answers = block_on(futures::future::join_all(guesses));
    let checked = answers
        .iter()
        .filter(|answer| matches!(answer, Err(LoginError::InvalidCredentials)))
        .count();
    assert_eq!(checked, 5);
}

#[test]
fn rotating_ipv6_addresses_inside_one_slash_64_does_not_reset_the_back_off() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for n in 1..=5 {
        h.login("jane", "wrong password", &format!("2001:db8:1:2::{n:x}"))
            .unwrap_err();
    }
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "2001:db8:1:2:ffff::1")).is_some());
    assert!(h.login("jane", PASSWORD, "2001:db8:1:3::1").is_ok());
}

#[test]
fn the_per_account_limit_holds_across_addresses_and_ends_with_its_window() {
    let mut limits = limits();
    limits.failures_per_account = "8/1h".parse().unwrap();
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    for n in 0..8 {
        h.login("jane", "wrong password", &format!("198.51.100.{n}"))
            .unwrap_err();
    }
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "192.0.2.77")).is_some());
    h.advance(TimeDelta::hours(1));
    assert!(h.login("jane", PASSWORD, "192.0.2.77").is_ok());
}

#[test]
fn the_per_address_login_limit_counts_every_attempt() {
    let mut limits = limits();
    limits.login_per_ip = Limit {
        max: 3,
        window: Duration::from_mins(1),
    };
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    for _ in 0..3 {
        assert!(h.login("jane", PASSWORD, "203.0.113.9").is_ok());
    }
    let throttled = is_rate_limited(&h.login("jane", PASSWORD, "203.0.113.9")).unwrap();
    assert_eq!(throttled.limit, 3);
}

#[test]
fn a_full_hashing_pool_is_overloaded_not_a_failure() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.hasher.overload_next();
    assert!(matches!(
        h.login("jane", PASSWORD, "203.0.113.9"),
        Err(LoginError::Overloaded { .. })
    ));
    assert!(
        !h.actions()
            .iter()
            .any(|(action, _)| action == "user.login.failed")
    );
}

#[test]
fn a_login_under_outdated_parameters_stores_a_hash_under_the_current_ones() {
    let h = harness_with(limits(), FakePasswordHasher::with_tag("m19456t2p1"));
    let jane = h.register("jane@example.com", "jane");
    let old = block_on(h.users.find_by_id(jane.user.id))
        .unwrap()
        .unwrap()
        .password_hash;
    // The same store, read by a hasher configured with stronger parameters.
    let stronger = harness_with(limits(), FakePasswordHasher::with_tag("m65536t3p1"));
    block_on(stronger.users.create(twofa_domain::NewUser::new(
        jane.user.id,
        jane.user.email.clone(),
        jane.user.username.clone(),
        old.clone(),
    )))
    .unwrap();
    stronger.signed_in("jane");
    let upgraded = block_on(stronger.users.find_by_id(jane.user.id))
        .unwrap()
        .unwrap()
        .password_hash;
    assert_ne!(upgraded, old);
    assert!(upgraded.as_phc().contains("m65536t3p1"));
    stronger.signed_in("jane");
}

#[test]
fn failures_from_elsewhere_do_not_lock_the_owner_out_of_a_familiar_address() {
    let mut limits = limits();
    limits.failures_per_account = "8/1h".parse().unwrap();
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    h.signed_in("jane"); // from 203.0.113.1
    for n in 0..8 {
        h.login("jane", "wrong password", &format!("198.51.100.{n}"))
            .unwrap_err();
    }
    // A new address is held back by the account's hard limit...
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "192.0.2.77")).is_some());
    // ...the owner's familiar one is not.
    assert!(h.login("jane", PASSWORD, "203.0.113.1").is_ok());
    // And the success cleared the account's count for everyone.
    assert!(h.login("jane", PASSWORD, "192.0.2.78").is_ok());
}
