//! The embedded default keeps its data across a restart.

use sea_orm::{ConnectionTrait as _, Database, Statement};
use twofa::Mode;
use twofa_tests::{AppOptions, Backend, spawn_app_with, start};

#[tokio::test]
async fn a_sqlite_app_survives_a_restart_with_its_data_intact() {
    let app = spawn_app_with(AppOptions::new(Backend::Sqlite)).await;
    let url = app.database_url.clone();
    let connection = Database::connect(&url).await.unwrap();
    connection
        .execute_unprepared(
            "INSERT INTO users (id, email, email_canonical, username, username_canonical, \
             password_hash, role, email_verified, is_active, created_at, updated_at) VALUES \
             ('0193a5b2-0000-7000-8000-000000000001', 'Ada@example.com', 'ada@example.com', 'ada', \
             'ada', '$argon2id$placeholder', 'user', false, true, '2026-11-25T00:00:00Z', \
             '2026-11-25T00:00:00Z')",
        )
        .await
        .unwrap();
    connection.close().await.unwrap();
    let settings = app.settings.clone();
    let data_dir = app.stop().await;

    let app = start(settings, Mode::All, url.clone(), data_dir).await;
    assert_eq!(app.health().await.status(), 200);
    let connection = Database::connect(&url).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT email FROM users WHERE username_canonical = 'ada'",
        ))
        .await
        .unwrap()
        .expect("the row is still there");
    assert_eq!(
        row.try_get::<String>("", "email").unwrap(),
        "Ada@example.com"
    );
    connection.close().await.unwrap();
    app.stop().await;
}
