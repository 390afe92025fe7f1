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
        assert_eq!(settings.server.max_headers, 100);
        assert_eq!(settings.server.max_header_bytes, 16384);
        assert_eq!(settings.server.header_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.server.max_connections, 1024);
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
fn every_documented_section_is_read_and_an_unknown_one_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_WEBHOOKS__TIMEOUT", "12s");
        jail.set_env("TWOFA_API_KEYS__RATE_LIMIT_PER_MINUTE", "600");
        jail.set_env("TWOFA_TOTP__ISSUER", "example");
        jail.set_env("TWOFA_OTP__TTL", "5m");
        jail.set_env("TWOFA_HASHING__WORKERS", "2");
        jail.set_env("TWOFA_AUTH__REQUIRE_VERIFIED_EMAIL", "false");
        jail.set_env("TWOFA_RATE_LIMITS__LOGIN_PER_IP", "30/1m");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.webhooks.timeout,
            Duration::from_secs(12),
            "webhooks is read now"
        );
        assert_eq!(
            settings.api_keys.rate_limit_per_minute, 600,
            "api_keys is read now"
        );
        assert_eq!(settings.totp.issuer, "example", "totp and otp are read now");
        jail.create_file("config.toml", "[tokenz]\nsigning_key = \"x\"\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("tokenz"), "{message}");
        jail.create_file("config.toml", "[webhookz]\ntimeout = \"10s\"\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("webhookz"), "{message}");
        jail.create_file("config.toml", "")?;
        jail.set_env("TWOFA_WEBHOOKZ__TIMEOUT", "10s");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("webhookz"), "{message}");
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
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("secrets.key"), "{message}");
        assert!(message.contains("TWOFA_SECRETS__KEY_FILE"), "{message}");
        jail.create_file("secrets.key", &format!("{}\n", key_text(7)))?;
        jail.set_env("TWOFA_SECRETS__KEY_FILE", "secrets.key");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.secrets.key().unwrap(),
            Some(twofa_crypto::CipherKey::from_bytes([7; 32]))
        );
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
        jail.set_env("TWOFA_JOBS__BACKEND", "redis");
        jail.set_env("TWOFA_REDIS__URL", "redis://127.0.0.1:6379");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("job outbox"), "{message}");
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

#[test]
fn hashing_auth_and_rate_limits_default_to_the_documented_values() {
    Jail::expect_with(|jail| {
        let settings = load_in(jail).unwrap();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(
            settings.hashing,
            HashingSettings {
                workers: cores,
                queue: 64,
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1,
            }
        );
        assert_eq!(
            settings.auth,
            AuthSettings {
                require_verified_email: true,
                verification_ttl: Duration::from_hours(24),
                reset_ttl: Duration::from_hours(1),
                verification_resend_cooldown: Duration::from_mins(1),
            }
        );
        let limit = |max, window| twofa_domain::Limit { max, window };
        assert_eq!(
            settings.rate_limits,
            RateLimitSettings {
                login_per_ip: limit(30, Duration::from_mins(1)),
                register_per_ip: limit(10, Duration::from_hours(1)),
                forgot_per_ip: limit(5, Duration::from_hours(1)),
                verify_per_ip: limit(30, Duration::from_mins(1)),
                otp_send_per_ip: limit(10, Duration::from_hours(1)),
                second_factor_failures_per_factor: limit(10, Duration::from_mins(15)),
                second_factor_failures_per_account: limit(30, Duration::from_hours(1)),
                failures_per_account_ip: limit(5, Duration::from_mins(15)),
                failures_per_account: limit(100, Duration::from_hours(1)),
            }
        );
        Ok(())
    });
}

#[test]
fn environment_variables_override_hashing_auth_and_rate_limits() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_RATE_LIMITS__LOGIN_PER_IP", "1000/1m");
        jail.set_env("TWOFA_RATE_LIMITS__FAILURES_PER_ACCOUNT", "20/1d");
        jail.set_env("TWOFA_HASHING__WORKERS", "2");
        jail.set_env("TWOFA_HASHING__MEMORY_KIB", "65536");
        jail.set_env("TWOFA_AUTH__REQUIRE_VERIFIED_EMAIL", "false");
        jail.set_env("TWOFA_AUTH__RESET_TTL", "30m");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.rate_limits.login_per_ip,
            twofa_domain::Limit {
                max: 1000,
                window: Duration::from_mins(1)
            }
        );
        assert_eq!(
            settings.rate_limits.failures_per_account,
            twofa_domain::Limit {
                max: 20,
                window: Duration::from_hours(24)
            }
        );
        assert_eq!(settings.hashing.workers, 2);
        assert_eq!(settings.hashing.memory_kib, 65536);
        assert!(!settings.auth.require_verified_email);
        assert_eq!(settings.auth.reset_ttl, Duration::from_mins(30));
        Ok(())
    });
}

#[test]
fn a_config_file_sets_the_hashing_workers_it_documents_as_commented_out() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[hashing]\nworkers = 3\n")?;
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.hashing.workers, 3);
        assert_eq!(
            settings.hashing.queue, 64,
            "the other keys keep their defaults"
        );
        Ok(())
    });
}

#[test]
fn a_malformed_limit_is_refused_naming_its_key_and_the_expected_form() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_RATE_LIMITS__LOGIN_PER_IP", "30");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("rate_limits.login_per_ip"), "{message}");
        assert!(message.contains("N/window"), "{message}");
        assert!(message.contains("30/1m"), "{message}");
        assert!(
            message.contains("`TWOFA_` environment variable"),
            "the source is named: {message}"
        );
        jail.set_env("TWOFA_RATE_LIMITS__LOGIN_PER_IP", "30/1m");
        jail.create_file("config.toml", "[rate_limits]\nverify_per_ip = \"0/1m\"\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("rate_limits.verify_per_ip"), "{message}");
        Ok(())
    });
}

#[test]
fn no_hashing_workers_is_refused_naming_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_HASHING__WORKERS", "0");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("hashing.workers"), "{message}");
        Ok(())
    });
}

#[test]
fn a_claim_batch_outside_its_range_is_refused_naming_the_key() {
    for batch in ["0", "1001"] {
        Jail::expect_with(|jail| {
            jail.set_env("TWOFA_JOBS__CLAIM_BATCH", batch);
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains("jobs.claim_batch"), "{message}");
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        assert_eq!(
            load_in(jail).unwrap().jobs.claim_batch,
            16,
            "the documented default"
        );
        Ok(())
    });
}

#[test]
fn argon2_parameters_below_its_minimums_are_refused_naming_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_HASHING__PARALLELISM", "4");
        jail.set_env("TWOFA_HASHING__MEMORY_KIB", "31");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("hashing.memory_kib"), "{message}");
        assert!(message.contains("32"), "{message}");
        jail.set_env("TWOFA_HASHING__MEMORY_KIB", "32");
        assert_eq!(load_in(jail).unwrap().hashing.memory_kib, 32);
        for (variable, key) in [
            ("TWOFA_HASHING__QUEUE", "hashing.queue"),
            ("TWOFA_HASHING__ITERATIONS", "hashing.iterations"),
            ("TWOFA_HASHING__PARALLELISM", "hashing.parallelism"),
        ] {
            jail.set_env(variable, "0");
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains(key), "{message}");
            jail.set_env(variable, "1");
        }
        Ok(())
    });
}

#[test]
fn link_lifetimes_and_the_resend_cooldown_must_be_longer_than_zero() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_AUTH__VERIFICATION_RESEND_COOLDOWN", "0s");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(
            message.contains("auth.verification_resend_cooldown"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_key_under_rate_limits_hashing_or_auth_is_refused() {
    Jail::expect_with(|jail| {
        for section in ["rate_limits", "hashing", "auth"] {
            jail.create_file(
                "config.toml",
                &format!("[{section}]\nlogin_per_ipp = \"30/1m\"\n"),
            )?;
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains("login_per_ipp"), "{section}: {message}");
        }
        jail.create_file("config.toml", "")?;
        jail.set_env("TWOFA_RATE_LIMITS__SIGNUP_PER_IP", "10/1h");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("signup_per_ip"), "{message}");
        Ok(())
    });
}

#[test]
fn the_connection_limits_must_leave_room_to_serve() {
    for (variable, value, key) in [
        ("TWOFA_SERVER__MAX_HEADERS", "0", "server.max_headers"),
        (
            "TWOFA_SERVER__MAX_HEADER_BYTES",
            "1023",
            "server.max_header_bytes",
        ),
        (
            "TWOFA_SERVER__HEADER_READ_TIMEOUT",
            "0s",
            "server.header_read_timeout",
        ),
        (
            "TWOFA_SERVER__MAX_CONNECTIONS",
            "0",
            "server.max_connections",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains(key), "{variable}={value}: {message}");
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_SERVER__MAX_HEADER_BYTES", "1024");
        jail.set_env("TWOFA_SERVER__HEADER_READ_TIMEOUT", "500ms");
        let settings = load_in(jail).unwrap();
        assert_eq!(settings.server.max_header_bytes, 1024);
        assert_eq!(
            settings.server.header_read_timeout,
            Duration::from_millis(500)
        );
        Ok(())
    });
}

/// Base64 of 32 bytes of `byte`: a valid `secrets.key`.
fn key_text(byte: u8) -> String {
    twofa_crypto::CipherKey::from_bytes([byte; 32])
        .to_base64()
        .as_str()
        .to_owned()
}

#[test]
fn the_second_factor_sections_default_to_the_documented_values() {
    Jail::expect_with(|jail| {
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.totp,
            TotpSettings {
                issuer: "twofa".into(),
                skew: 1,
                algorithm: TotpAlgorithmSetting::Sha1,
                digits: 6,
                period: Duration::from_secs(30),
            }
        );
        assert_eq!(settings.totp.policy(), twofa_domain::TotpPolicy::default());
        assert_eq!(
            settings.otp,
            OtpSettings {
                ttl: Duration::from_mins(5),
                resend_cooldown: Duration::from_secs(30),
                sends_per_destination_per_hour: 10,
                sends_per_user_per_hour: 20,
            }
        );
        assert_eq!(
            settings.devices,
            DevicesSettings {
                trust_ttl: Duration::from_hours(30 * 24),
            }
        );
        assert!(settings.secrets.key.is_none());
        assert!(settings.secrets.previous_keys.is_empty());
        assert_eq!(
            settings.secrets.dev_key_file,
            PathBuf::from("data/secrets.key")
        );
        Ok(())
    });
}

#[test]
fn the_secrets_keys_come_from_the_environment_or_a_file_and_must_be_32_bytes_of_base64() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_SECRETS__KEY", key_text(1));
        jail.set_env(
            "TWOFA_SECRETS__PREVIOUS_KEYS",
            format!(r#"["{}", "{}"]"#, key_text(2), key_text(3)),
        );
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.secrets.key().unwrap(),
            Some(twofa_crypto::CipherKey::from_bytes([1; 32]))
        );
        assert_eq!(
            settings.secrets.previous_keys().unwrap(),
            [
                twofa_crypto::CipherKey::from_bytes([2; 32]),
                twofa_crypto::CipherKey::from_bytes([3; 32])
            ]
        );

        jail.set_env("TWOFA_SECRETS__KEY", "c2hvcnQ=");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("secrets.key"), "{message}");
        assert!(message.contains("5 bytes"), "{message}");
        jail.set_env("TWOFA_SECRETS__KEY", "not base64, and secret");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("secrets.key"), "{message}");
        assert!(message.contains("base64"), "{message}");
        assert!(
            !message.contains("and secret"),
            "the value is not repeated: {message}"
        );

        jail.set_env("TWOFA_SECRETS__KEY", key_text(1));
        jail.set_env("TWOFA_SECRETS__PREVIOUS_KEYS", r#"["c2hvcnQ="]"#);
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("secrets.previous_keys"), "{message}");

        jail.set_env("TWOFA_SECRETS__PREVIOUS_KEYS", "[]");
        jail.create_file("key", &format!("{}\n", key_text(9)))?;
        jail.set_env("TWOFA_SECRETS__KEY_FILE", "key");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.secrets.key().unwrap(),
            Some(twofa_crypto::CipherKey::from_bytes([9; 32])),
            "the file wins over the key"
        );
        jail.set_env("TWOFA_SECRETS__KEY_FILE", "missing");
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("secrets.key_file"), "{message}");
        Ok(())
    });
}

#[test]
fn a_code_may_live_ten_minutes_at_most() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_OTP__TTL", "10m");
        assert_eq!(load_in(jail).unwrap().otp.ttl, Duration::from_mins(10));
        for ttl in ["11m", "0s"] {
            jail.set_env("TWOFA_OTP__TTL", ttl);
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains("otp.ttl"), "{ttl}: {message}");
            assert!(message.contains("10m"), "{ttl}: {message}");
        }
        Ok(())
    });
}

#[test]
fn second_factor_settings_out_of_range_are_refused_naming_the_key() {
    for (variable, value, key) in [
        ("TWOFA_TOTP__ISSUER", "", "totp.issuer"),
        ("TWOFA_TOTP__ISSUER", "Example:Corp", "totp.issuer"),
        ("TWOFA_TOTP__SKEW", "11", "totp.skew"),
        ("TWOFA_TOTP__DIGITS", "5", "totp.digits"),
        ("TWOFA_TOTP__DIGITS", "9", "totp.digits"),
        ("TWOFA_TOTP__PERIOD", "0s", "totp.period"),
        ("TWOFA_TOTP__PERIOD", "1500ms", "totp.period"),
        ("TWOFA_TOTP__ALGORITHM", "MD5", "totp.algorithm"),
        ("TWOFA_OTP__RESEND_COOLDOWN", "0s", "otp.resend_cooldown"),
        (
            "TWOFA_OTP__SENDS_PER_DESTINATION_PER_HOUR",
            "0",
            "otp.sends_per_destination_per_hour",
        ),
        (
            "TWOFA_OTP__SENDS_PER_USER_PER_HOUR",
            "0",
            "otp.sends_per_user_per_hour",
        ),
        ("TWOFA_DEVICES__TRUST_TTL", "0s", "devices.trust_ttl"),
        ("TWOFA_DEVICES__TRUST_TTL", "401d", "devices.trust_ttl"),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains(key), "{variable}={value:?}: {message}");
            Ok(())
        });
    }
}

#[test]
fn totp_settings_describe_the_policy_and_take_the_algorithm_in_either_case() {
    Jail::expect_with(|jail| {
        jail.set_env("TWOFA_TOTP__ALGORITHM", "sha256");
        jail.set_env("TWOFA_TOTP__DIGITS", "8");
        jail.set_env("TWOFA_TOTP__PERIOD", "60s");
        jail.set_env("TWOFA_TOTP__SKEW", "0");
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.totp.policy(),
            twofa_domain::TotpPolicy {
                algorithm: twofa_domain::TotpAlgorithm::Sha256,
                digits: 8,
                period: 60,
                skew: 0,
            }
        );
        jail.set_env("TWOFA_TOTP__ALGORITHM", "SHA512");
        assert_eq!(
            load_in(jail).unwrap().totp.algorithm,
            TotpAlgorithmSetting::Sha512
        );
        jail.set_env("TWOFA_TOTP__ISSUER", "0123");
        assert_eq!(
            load_in(jail).unwrap().totp.issuer,
            "0123",
            "an issuer that looks like a number is kept as written"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_key_under_a_second_factor_section_is_refused() {
    Jail::expect_with(|jail| {
        for section in ["secrets", "totp", "otp", "devices"] {
            jail.create_file("config.toml", &format!("[{section}]\nttll = \"5m\"\n"))?;
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains("ttll"), "{section}: {message}");
        }
        Ok(())
    });
}

#[test]
fn webhooks_default_to_the_documented_values() {
    Jail::expect_with(|jail| {
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.webhooks,
            WebhookSettings {
                retry_schedule: vec![
                    Duration::from_secs(5),
                    Duration::from_mins(5),
                    Duration::from_mins(30),
                    Duration::from_hours(2),
                    Duration::from_hours(5),
                    Duration::from_hours(10),
                    Duration::from_hours(10),
                ],
                timeout: Duration::from_secs(10),
                disable_after_failures: 20,
                allowed_cidrs: Vec::new(),
            }
        );
        Ok(())
    });
}

#[test]
fn a_config_file_sets_every_webhooks_key() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "config.toml",
            "[webhooks]\n\
             retry_schedule = [\"1s\", \"90s\", \"1h 30m\"]\n\
             timeout = \"2500ms\"\n\
             disable_after_failures = 3\n\
             allowed_cidrs = [\"10.0.0.0/8\", \"fd00::/8\"]\n",
        )?;
        let settings = load_in(jail).unwrap();
        assert_eq!(
            settings.webhooks,
            WebhookSettings {
                retry_schedule: vec![
                    Duration::from_secs(1),
                    Duration::from_secs(90),
                    Duration::from_mins(90),
                ],
                timeout: Duration::from_millis(2500),
                disable_after_failures: 3,
                allowed_cidrs: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
            }
        );
        jail.create_file("config.toml", "[webhooks]\nretry_schedule = []\n")?;
        assert!(
            load_in(jail).unwrap().webhooks.retry_schedule.is_empty(),
            "an empty schedule never retries"
        );
        Ok(())
    });
}

#[test]
fn environment_variables_override_webhooks_lists_included() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[webhooks]\ntimeout = \"30s\"\n")?;
        jail.set_env("TWOFA_WEBHOOKS__RETRY_SCHEDULE", r#"["10s", "1m"]"#);
        jail.set_env("TWOFA_WEBHOOKS__TIMEOUT", "5s");
        jail.set_env("TWOFA_WEBHOOKS__DISABLE_AFTER_FAILURES", "7");
        jail.set_env("TWOFA_WEBHOOKS__ALLOWED_CIDRS", r#"["192.168.10.0/24"]"#);
        let webhooks = load_in(jail).unwrap().webhooks;
        assert_eq!(
            webhooks.retry_schedule,
            [Duration::from_secs(10), Duration::from_mins(1)]
        );
        assert_eq!(
            webhooks.timeout,
            Duration::from_secs(5),
            "env wins over the file"
        );
        assert_eq!(webhooks.disable_after_failures, 7);
        assert_eq!(
            webhooks.allowed_cidrs,
            ["192.168.10.0/24".parse::<IpNet>().unwrap()]
        );
        Ok(())
    });
}

#[test]
fn webhooks_values_out_of_range_are_refused_naming_the_key() {
    let too_many = format!("[{}]", vec!["\"1m\""; 21].join(", "));
    for (variable, value, key, expected) in [
        (
            "TWOFA_WEBHOOKS__TIMEOUT",
            "0s",
            "webhooks.timeout",
            "longer than 0s",
        ),
        (
            "TWOFA_WEBHOOKS__TIMEOUT",
            "6m",
            "webhooks.timeout",
            "at most 5m",
        ),
        ("TWOFA_WEBHOOKS__TIMEOUT", "soon", "webhooks.timeout", "30s"),
        (
            "TWOFA_WEBHOOKS__RETRY_SCHEDULE",
            too_many.as_str(),
            "webhooks.retry_schedule",
            "at most 20",
        ),
        (
            "TWOFA_WEBHOOKS__RETRY_SCHEDULE",
            r#"["5s", "0s"]"#,
            "webhooks.retry_schedule",
            "retry 2",
        ),
        (
            "TWOFA_WEBHOOKS__RETRY_SCHEDULE",
            r#"["25h"]"#,
            "webhooks.retry_schedule",
            "at most 24h",
        ),
        (
            "TWOFA_WEBHOOKS__RETRY_SCHEDULE",
            r#"["5s", "later"]"#,
            "webhooks.retry_schedule",
            "later",
        ),
        (
            "TWOFA_WEBHOOKS__DISABLE_AFTER_FAILURES",
            "0",
            "webhooks.disable_after_failures",
            "at least 1",
        ),
        (
            "TWOFA_WEBHOOKS__DISABLE_AFTER_FAILURES",
            "-1",
            "webhooks.disable_after_failures",
            "",
        ),
        (
            "TWOFA_WEBHOOKS__ALLOWED_CIDRS",
            r#"["10.0.0.0/8", "10.0.0/8"]"#,
            "webhooks.allowed_cidrs",
            "10.0.0/8",
        ),
        (
            "TWOFA_WEBHOOKS__ALLOWED_CIDRS",
            r#"["10.0.0.1"]"#,
            "webhooks.allowed_cidrs",
            "CIDR",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            let message = load_in(jail).unwrap_err().to_string();
            assert!(message.contains(key), "{variable}={value:?}: {message}");
            assert!(
                message.contains(expected),
                "{variable}={value:?}: {message}"
            );
            Ok(())
        });
    }
}

#[test]
fn an_unknown_key_under_webhooks_is_refused() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[webhooks]\nretries = 3\n")?;
        let message = load_in(jail).unwrap_err().to_string();
        assert!(message.contains("retries"), "{message}");
        Ok(())
    });
}
