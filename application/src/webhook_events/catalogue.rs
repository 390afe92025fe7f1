//! The webhook event catalogue that `GET /api/webhooks/events` serves (API.md "Webhook
//! delivery"): every type of [`WEBHOOK_EVENT_TYPES`](super::WEBHOOK_EVENT_TYPES), in its order,
//! with what it means and a sample `data`.
//!
//! An event's `data` is its audit event's details, so each example is the object the use case
//! that records the action writes there, with made-up ids and masked values: never a secret, a
//! code or a token.

use serde_json::{Value, json};

/// One event type of the catalogue.
pub struct EventType {
    /// The event type, as webhook bodies and subscriptions spell it (`2fa.enabled`, …).
    pub name: &'static str,
    /// What happened, and when the event is sent: one sentence.
    pub description: &'static str,
    /// A sample `data` of the event.
    pub example: fn() -> Value,
}

impl EventType {
    /// A sample `data` as a delivery carries it: the example, with the `userId` of the account
    /// the event is about (every type but `webhook.test`).
    pub fn data_example(&self) -> Value {
        let mut data = (self.example)();
        if self.name != "webhook.test"
            && let Some(object) = data.as_object_mut()
        {
            object.entry("userId").or_insert_with(|| json!(USER_ID));
        }
        data
    }
}

/// An account's id, as the examples show it.
const USER_ID: &str = "0190c2a0-5b1c-7d2e-9f3a-4b5c6d7e8f90";
/// A session's id, as the examples show it.
const SESSION_ID: &str = "4b9e1c3a-7f2d-4a86-9e5b-0c1d2f3a4b5c";
/// A second factor's id, as the examples show it.
const FACTOR_ID: &str = "3f6b2c1e-8d4a-4e7b-9c2f-5a1d0e8b7c64";
/// A trusted device's id, as the examples show it.
const DEVICE_ID: &str = "a7d3e9f1-2b4c-4d6e-8f0a-1c3e5b7d9f20";
/// An API key's id, as the examples show it.
const API_KEY_ID: &str = "0190c2b1-3e7f-7a42-8c5d-9e1f2a3b4c5d";
/// A webhook endpoint's id, as the examples show it.
const ENDPOINT_ID: &str = "0190c2c8-1d2e-7f30-a4b5-c6d7e8f9a0b1";

/// Every event type the service emits to webhooks, in the order of
/// [`WEBHOOK_EVENT_TYPES`](super::WEBHOOK_EVENT_TYPES).
pub const CATALOGUE: [EventType; 22] = [
    EventType {
        name: "user.registered",
        description: "An account was created by registration; sent when the account and its first session are stored.",
        example: user_registered,
    },
    EventType {
        name: "user.login.succeeded",
        description: "A user signed in and a session started; sent after the password alone, the password and a trusted device, or the password and a second factor (amr tells which).",
        example: user_login_succeeded,
    },
    EventType {
        name: "user.login.failed",
        description: "A password sign-in was refused; sent for an unknown account (with no user), a wrong password or a disabled account (reason tells which).",
        example: user_login_failed,
    },
    EventType {
        name: "user.email.verified",
        description: "A user confirmed their e-mail address with the link sent to it; sent when the address is marked verified.",
        example: empty,
    },
    EventType {
        name: "user.password.changed",
        description: "A user changed their password, ending their other sessions and every trusted device; a refused attempt (wrong current password) is sent too, with reason instead of endedSessions.",
        example: user_password_changed,
    },
    EventType {
        name: "user.password.reset",
        description: "A user set a new password with a reset link, ending every session and trusted device; sent when the new password is stored.",
        example: user_password_reset,
    },
    EventType {
        name: "user.disabled",
        description: "An administrator disabled the account: it cannot sign in, and its sessions and API keys stop; sent when the account is disabled.",
        example: user_disabled,
    },
    EventType {
        name: "user.enabled",
        description: "An administrator enabled the account again (its ended sessions stay ended); sent when the account is enabled.",
        example: empty,
    },
    EventType {
        name: "session.revoked",
        description: "A session ended before its expiry; sent when the user ends one session (current tells whether it was the calling one), when a refresh finds the account disabled or deleted (reason account_unavailable instead of current), or when the user ends every session (all and count instead of sessionId).",
        example: session_revoked,
    },
    EventType {
        name: "security.refresh_token_reuse",
        description: "A refresh token that was already rotated was presented again, so its session is revoked; sent on that refresh or logout.",
        example: refresh_token_reuse,
    },
    EventType {
        name: "2fa.enabled",
        description: "A user confirmed a new second factor; sent when it is enabled, with maskedDestination for SMS and e-mail factors and devicesRevoked when trusted devices ended.",
        example: two_factor_enabled,
    },
    EventType {
        name: "2fa.disabled",
        description: "A user removed a second factor (maskedDestination for SMS and e-mail factors), or an administrator removed all of them, with all, factors, backupCodes and devices instead; sent when the factors are removed.",
        example: two_factor_disabled,
    },
    EventType {
        name: "2fa.verified",
        description: "A user passed the second step of a sign-in; sent with the factor used, or with type backup_code and no factorId for a backup code.",
        example: two_factor_verified,
    },
    EventType {
        name: "2fa.failed",
        description: "A wrong second-factor code was entered; sent at sign-in with reason and challengeFailures, or while confirming a new factor with stage setup, factorId and type.",
        example: two_factor_failed,
    },
    EventType {
        name: "2fa.backup_codes.generated",
        description: "A new set of backup codes replaced the old one; sent when the first second factor is enabled or the user regenerates them.",
        example: backup_codes_generated,
    },
    EventType {
        name: "2fa.backup_code.used",
        description: "A backup code was used to sign in; sent with the number of codes left.",
        example: backup_code_used,
    },
    EventType {
        name: "2fa.backup_codes.low",
        description: "A backup code was used and two or fewer remain; sent after 2fa.backup_code.used.",
        example: backup_codes_low,
    },
    EventType {
        name: "device.trusted",
        description: "A user asked to trust the device while passing a second factor, so it skips the second step until it expires; sent at that sign-in, name being null when none was given.",
        example: device_trusted,
    },
    EventType {
        name: "device.revoked",
        description: "A user ended the trust of one device, or of every device, with all and count instead of deviceId; sent when the trust ends.",
        example: device_revoked,
    },
    EventType {
        name: "api_key.created",
        description: "A user created an API key; sent when the key is stored, before it is first used.",
        example: api_key,
    },
    EventType {
        name: "api_key.revoked",
        description: "A user revoked an API key, which fails from the next request; sent when it is revoked.",
        example: api_key,
    },
    EventType {
        name: "webhook.test",
        description: "A test event asked for with POST /api/webhooks/{id}/test; sent to that endpoint only.",
        example: webhook_test,
    },
];

/// An event with no details.
fn empty() -> Value {
    json!({})
}

fn user_registered() -> Value {
    json!({ "email": "j***@example.com", "username": "jane.doe", "sessionId": SESSION_ID })
}

fn user_login_succeeded() -> Value {
    json!({ "sessionId": SESSION_ID, "amr": ["pwd", "mfa", "otp"] })
}

fn user_login_failed() -> Value {
    json!({ "reason": "wrong_password" })
}

fn user_password_changed() -> Value {
    json!({ "endedSessions": 2 })
}

fn user_password_reset() -> Value {
    json!({ "endedSessions": 3 })
}

fn user_disabled() -> Value {
    json!({ "sessionsEnded": 2 })
}

fn session_revoked() -> Value {
    json!({ "sessionId": SESSION_ID, "current": false })
}

fn refresh_token_reuse() -> Value {
    json!({ "sessionId": SESSION_ID })
}

fn two_factor_enabled() -> Value {
    json!({ "factorId": FACTOR_ID, "type": "sms", "maskedDestination": "+1********23" })
}

fn two_factor_disabled() -> Value {
    json!({
        "factorId": FACTOR_ID,
        "type": "totp",
        "twoFactorEnabled": false,
        "devicesRevoked": 1,
    })
}

fn two_factor_verified() -> Value {
    json!({ "factorId": FACTOR_ID, "type": "totp", "sessionId": SESSION_ID, "method": "otp" })
}

fn two_factor_failed() -> Value {
    json!({ "reason": "wrong_code", "stage": "login", "challengeFailures": 1 })
}

fn backup_codes_generated() -> Value {
    json!({ "count": 10 })
}

fn backup_code_used() -> Value {
    json!({ "remaining": 7 })
}

fn backup_codes_low() -> Value {
    json!({ "remaining": 2 })
}

fn device_trusted() -> Value {
    json!({ "deviceId": DEVICE_ID, "name": "Jane's laptop" })
}

fn device_revoked() -> Value {
    json!({ "deviceId": DEVICE_ID })
}

/// `api_key.created` and `api_key.revoked` carry the same details.
fn api_key() -> Value {
    json!({
        "apiKeyId": API_KEY_ID,
        "name": "CI deploy",
        "prefix": "tfa_7Hq2mXk9",
        "scopes": ["user:read", "2fa:read"],
    })
}

fn webhook_test() -> Value {
    json!({ "endpointId": ENDPOINT_ID, "message": "This is a test event from twofa." })
}

#[cfg(test)]
mod tests {
    use twofa_domain::AuditDetails;

    use super::*;
    use crate::webhook_events::WEBHOOK_EVENT_TYPES;

    #[test]
    fn the_catalogue_lists_every_webhook_event_type_in_order() {
        let names: Vec<&str> = CATALOGUE.iter().map(|event| event.name).collect();
        assert_eq!(names, WEBHOOK_EVENT_TYPES);
    }

    #[test]
    fn every_example_is_an_object_the_audit_trail_keeps_unredacted() {
        for event in &CATALOGUE {
            let example = (event.example)();
            assert!(example.is_object(), "{}: not an object", event.name);
            assert_eq!(
                AuditDetails::new(example.clone()).to_value(),
                example,
                "{}: a key would be redacted",
                event.name
            );
        }
    }

    #[test]
    fn every_id_in_an_example_is_a_uuid() {
        for event in &CATALOGUE {
            let example = (event.example)();
            let Value::Object(details) = example else {
                panic!("{}: not an object", event.name);
            };
            for (key, value) in details.iter().filter(|(key, _)| key.ends_with("Id")) {
                let id = value.as_str().unwrap_or_default();
                assert!(
                    uuid::Uuid::parse_str(id).is_ok(),
                    "{}: {key} is not a UUID",
                    event.name
                );
            }
        }
    }

    #[test]
    fn every_description_is_one_sentence() {
        for event in &CATALOGUE {
            let description = event.description;
            assert!(!description.is_empty(), "{}: no description", event.name);
            assert!(description.ends_with('.'), "{}: no period", event.name);
            assert!(
                !description.trim_end_matches('.').contains(". "),
                "{}: more than one sentence",
                event.name
            );
        }
    }
}
