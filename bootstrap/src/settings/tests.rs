#![expect(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error, which is large"
)]

use figment::Jail;

use super::*;

fn load_in(jail: &Jail) -> Result<Settings, SettingsError> {
    let _ = jail;
    Settings::load(None)
}

#[test]
fn the_defaults_are_the_embedded_development_setup() {
    Jail::expect_with(|jail| {
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.environment, Environment::Development);
        assert_eq!(settings.mode, Mode::All);
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.database.url.expose_secret(),
            "sqlite://data/twofa.db?mode=rwc"
        );
        assert_eq!(settings.database_kind(), DatabaseKind::Sqlite);
        assert!(settings.redis.url.is_none());
        assert_eq!(settings.server.body_limit, 65536);
        assert_eq!(settings.server.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.redis.timeout, Duration::from_secs(2));
        Ok(())
    });
}

#[test]
fn environment_variables_override_nested_keys() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_SERVER__LISTEN", "127.0.0.1:9999");
        jail.set_env("TWOFA_MODE", "worker");
        jail.set_env("TWOFA_REDIS__URL", "redis://127.0.0.1:6379");
        jail.set_env(
            "TWOFA_SERVER__TRUSTED_PROXIES",
            r#"["127.0.0.1/32", "10.0.0.0/8"]"#,
        );
        jail.set_env("TWOFA_TEST_DATABASE_URL", "postgres://ignored");
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.server.listen.port(), 9999);
        assert_eq!(settings.mode, Mode::Worker);
        assert_eq!(
            settings.redis.url.unwrap().expose_secret(),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(settings.server.trusted_proxies.len(), 2);
        Ok(())
    });
}

#[test]
fn a_config_file_in_the_working_directory_overrides_the_defaults_and_env_wins_over_it() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "config.toml",
            "[server]\nlisten = \"127.0.0.1:7000\"\nbody_limit = 10\n",
        )?;
        jail.set_env("TWOFA_SERVER__BODY_LIMIT", "20");
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.server.listen.port(), 7000);
        assert_eq!(settings.server.body_limit, 20);
        Ok(())
    });
}

#[test]
fn a_bad_value_names_its_key() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_SERVER__LISTEN", "not-an-address");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("server.listen"), "{message}");
        Ok(())
    });
}

#[test]
fn a_bad_duration_names_its_key_and_the_expected_form() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_REDIS__TIMEOUT", "soon");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("redis.timeout"), "{message}");
        assert!(message.contains("30s"), "{message}");
        Ok(())
    });
}

#[test]
fn an_unknown_key_in_a_file_is_refused() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[server]\nlisten_on = \"127.0.0.1:7000\"\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("listen_on"), "{message}");
        Ok(())
    });
}

#[test]
fn sections_of_later_capabilities_are_accepted_and_reported_and_others_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_HASHING__WORKERS", "2");
        jail.set_env("TWOFA_RATE_LIMITS__LOGIN_PER_IP", "30/1m");
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.unused_sections(), ["hashing", "rate_limits"]);
        jail.create_file("config.toml", "[tokenz]\nsigning_key = \"x\"\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("tokenz"), "{message}");
        Ok(())
    });
}

#[test]
fn a_missing_config_file_is_named() {
    Jail::expect_with(|_| {
        let error = Settings::load(Some(Path::new("nope.toml"))).unwrap_err();
        assert!(error.to_string().contains("nope.toml"));
        Ok(())
    });
}

#[test]
fn secrets_can_come_from_files() {
    Jail::expect_with(|jail| {
        jail.create_file("db-url", "postgres://u:p@127.0.0.1/twofa\n")?;
        jail.set_env("TWOFA_DATABASE__URL_FILE", "db-url");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.database.url.expose_secret(),
            "postgres://u:p@127.0.0.1/twofa"
        );
        Ok(())
    });
}

#[test]
fn production_refuses_sqlite_and_in_process_stores() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_ENVIRONMENT", "production");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("database.url"), "{message}");
        jail.set_env("TWOFA_DATABASE__URL", "postgres://127.0.0.1/twofa");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("redis.url"), "{message}");
        jail.set_env("TWOFA_REDIS__URL", "redis://127.0.0.1");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("notify.sms"), "{message}");
        jail.set_env("TWOFA_NOTIFY__SMS", "twilio");
        jail.set_env("TWOFA_NOTIFY__TWILIO__ACCOUNT_SID", "AC123");
        jail.set_env("TWOFA_NOTIFY__TWILIO__AUTH_TOKEN", "token");
        jail.set_env("TWOFA_NOTIFY__TWILIO__MESSAGING_SERVICE_SID", "MG123");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("notify.email"), "{message}");
        jail.set_env("TWOFA_NOTIFY__EMAIL", "smtp");
        jail.set_env("TWOFA_JOBS__BACKEND", "memory");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("jobs.backend"), "{message}");
        jail.set_env("TWOFA_JOBS__BACKEND", "redis");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("tokens.signing_key"), "{message}");
        jail.create_file("jwt.pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n")?;
        jail.set_env("TWOFA_TOKENS__SIGNING_KEY_FILE", "jwt.pem");
        let settings = load_in(jail).unwrap();
        assert!(
            settings
                .tokens
                .signing_key
                .unwrap()
                .expose_secret()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        Ok(())
    });
}

#[test]
fn twilio_needs_credentials_and_exactly_one_sender() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_NOTIFY__SMS", "twilio");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("notify.twilio.account_sid"), "{message}");
        jail.set_env("TWOFA_NOTIFY__TWILIO__ACCOUNT_SID", "AC123");
        jail.create_file("twilio-token", "secret-token\n")?;
        jail.set_env("TWOFA_NOTIFY__TWILIO__FROM", "");
        jail.set_env("TWOFA_NOTIFY__TWILIO__AUTH_TOKEN_FILE", "twilio-token");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(
            message.contains("notify.twilio.from"),
            "neither sender: {message}"
        );
        jail.set_env("TWOFA_NOTIFY__TWILIO__FROM", "+15550001111");
        jail.set_env("TWOFA_NOTIFY__TWILIO__MESSAGING_SERVICE_SID", "MG123");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(
            message.contains("notify.twilio.from"),
            "both senders: {message}"
        );
        Ok(())
    });
}

#[test]
fn the_queue_backend_must_match_the_stores() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_JOBS__BACKEND", "redis");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("redis.url"), "{message}");
        jail.set_env("TWOFA_JOBS__BACKEND", "sql");
        jail.set_env("TWOFA_DATABASE__URL", "memory://");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("jobs.backend"), "{message}");
        jail.set_env("TWOFA_JOBS__BACKEND", "memory");
        assert!(load_in(jail).is_ok());
        Ok(())
    });
}

#[test]
fn text_settings_keep_what_looks_like_a_number_as_written() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_NOTIFY__SMTP__PASSWORD", "0012345678");
        jail.set_env("TWOFA_NOTIFY__SMTP__USERNAME", "4711");
        jail.set_env("TWOFA_NOTIFY__TWILIO__FROM", "+15550001111");
        jail.set_env("TWOFA_SERVER__BODY_LIMIT", "2048");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.notify.smtp.password.unwrap().expose_secret(),
            "0012345678"
        );
        assert_eq!(settings.notify.smtp.username.as_deref(), Some("4711"));
        assert_eq!(settings.notify.twilio.from.as_deref(), Some("+15550001111"));
        assert_eq!(
            settings.server.body_limit, 2048,
            "numbers still parse as numbers"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_DATABASE__URL", "mysql://127.0.0.1/twofa");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("database.url"), "{message}");
        Ok(())
    });
}
