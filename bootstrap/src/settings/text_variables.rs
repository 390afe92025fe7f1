//! The `TWOFA_*` variables of text settings (URLs, phone numbers, passwords, limits): figment
//! reads `+15550001111` or `0123` as numbers, losing the `+` or the zero, so these are taken as
//! written.

use figment::{
    Metadata, Profile, Provider,
    providers::Env,
    value::{Dict, Map, Value},
};

/// Settings whose values are text, whatever they look like (numbers, a leading `+` or zero,
/// a limit's `/`).
const TEXT_KEYS: [&str; 35] = [
    "server.public_url",
    "database.url",
    "database.url_file",
    "redis.url",
    "redis.url_file",
    "redis.key_prefix",
    "notify.dev_outbox",
    "notify.twilio.account_sid",
    "notify.twilio.auth_token",
    "notify.twilio.auth_token_file",
    "notify.twilio.from",
    "notify.twilio.messaging_service_sid",
    "notify.twilio.base_url",
    "notify.smtp.host",
    "notify.smtp.username",
    "notify.smtp.password",
    "notify.smtp.password_file",
    "notify.smtp.from",
    "log.level",
    "tokens.signing_key",
    "tokens.signing_key_file",
    "tokens.dev_key_file",
    "secrets.key",
    "secrets.key_file",
    "secrets.dev_key_file",
    "totp.issuer",
    "rate_limits.login_per_ip",
    "rate_limits.register_per_ip",
    "rate_limits.forgot_per_ip",
    "rate_limits.verify_per_ip",
    "rate_limits.otp_send_per_ip",
    "rate_limits.second_factor_failures_per_factor",
    "rate_limits.second_factor_failures_per_account",
    "rate_limits.failures_per_account_ip",
    "rate_limits.failures_per_account",
];

pub(super) fn is_text_key(key: &str) -> bool {
    TEXT_KEYS.iter().any(|text| text.eq_ignore_ascii_case(key))
}

/// The `TWOFA_*` variables of text settings, each value taken as written. An error names them
/// as it names the other variables (figment's `Serialized` would name a line of this crate).
pub(super) struct TextVariables(pub(super) Env);

impl Provider for TextVariables {
    fn metadata(&self) -> Metadata {
        Metadata::named("`TWOFA_` environment variable(s)")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut text = Dict::new();
        for (key, raw) in self.0.iter() {
            insert(&mut text, key.as_str(), raw.into());
        }
        Ok(Profile::Default.collect(text))
    }
}

/// Puts `value` at the dotted `key`, making the sections on the way.
fn insert(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_owned(), value);
        }
        Some((section, rest)) => {
            let entry = dict
                .entry(section.to_owned())
                .or_insert_with(|| Dict::new().into());
            if !matches!(entry, Value::Dict(..)) {
                *entry = Dict::new().into();
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
