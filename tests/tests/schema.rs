//! Development migrates on start; production refuses an unmigrated schema until
//! `twofa migrate` has run.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use figment::providers::Serialized;
use twofa::{Application, Mode, Settings};
use twofa_tests::{fresh_postgres_database, redis_url};

fn production(database_url: &str) -> Settings {
    let figment = Settings::figment(None)
        .unwrap()
        .merge(Serialized::default("environment", "production"))
        .merge(Serialized::default("server.listen", "127.0.0.1:0"))
        .merge(Serialized::default("database.url", database_url))
        .merge(Serialized::default("redis.url", redis_url()))
        .merge(Serialized::default("notify.sms", "twilio"))
        .merge(Serialized::default("notify.twilio.account_sid", "AC123"))
        .merge(Serialized::default("notify.twilio.auth_token", "token"))
        .merge(Serialized::default("notify.twilio.from", "+15550001111"))
        .merge(Serialized::default("notify.email", "smtp"))
        .merge(Serialized::default(
            "tokens.signing_key",
            twofa_crypto::ed25519_token_signer::generate_signing_key_pem(
                &twofa_crypto::OsSecretGenerator,
            ),
        ))
        .merge(Serialized::default(
            "secrets.key",
            twofa_crypto::CipherKey::generate(&twofa_crypto::OsSecretGenerator)
                .to_base64()
                .as_str(),
        ));
    Settings::from_figment(&figment).unwrap()
}

#[tokio::test]
async fn production_refuses_an_unmigrated_schema_until_migrate_runs() {
    let url = fresh_postgres_database().await;
    let Err(error) = Application::build(production(&url), Mode::Api).await else {
        panic!("production started on an unmigrated schema");
    };
    let message = format!("{error:#}");
    assert!(message.contains("twofa migrate"), "{message}");

    let database = twofa::app::connect_database(&production(&url))
        .await
        .unwrap();
    assert!(database.migrate().await.unwrap() >= 1);
    database.close().await;

    let application = Application::build(production(&url), Mode::Api)
        .await
        .unwrap();
    drop(application);
}

#[tokio::test]
async fn development_migrates_postgres_on_start() {
    let url = fresh_postgres_database().await;
    let data = tempfile::tempdir().unwrap();
    let figment = Settings::figment(None)
        .unwrap()
        .merge(Serialized::default("server.listen", "127.0.0.1:0"))
        .merge(Serialized::default("database.url", &url))
        .merge(Serialized::default(
            "tokens.dev_key_file",
            data.path().join("jwt.pem"),
        ))
        .merge(Serialized::default(
            "secrets.dev_key_file",
            data.path().join("secrets.key"),
        ))
        .merge(Serialized::default(
            "notify.dev_outbox",
            data.path().join("outbox.jsonl"),
        ));
    let settings = Settings::from_figment(&figment).unwrap();
    let application = Application::build(settings, Mode::Api).await.unwrap();
    drop(application);
    let database = twofa::app::connect_database(&production(&url))
        .await
        .unwrap();
    assert!(database.pending_migrations().await.unwrap().is_empty());
    database.close().await;
}
