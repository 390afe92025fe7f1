//! The `UnitOfWork` contract: a transaction's repository writes, jobs and audit events exist
//! after its commit, a rolled-back (dropped) transaction leaves none of them, a transaction
//! reads its own writes (second factors, backup codes, trusted devices, API keys and webhooks
//! among them), and a conditional write stays atomic between transactions.

#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::json;
use twofa_domain::{
    Actor, ApiKeyId, ApiKeyRepository, AttemptOutcome, AuditLog, AuditQuery, BackupCodeRepository,
    DeliveryAttempt, DeviceId, DeviceRepository, EmailAddress, FactorId, FactorKind,
    FactorRepository, JobQueue, NewApiKey, NewAuditEvent, NewFactor, NewJob, NewOneTimeToken,
    NewSession, NewTrustedDevice, NewUser, NewWebhookDelivery, NewWebhookEndpoint,
    OneTimeTokenHash, OneTimeTokenRepository, PasswordHash, QueueCounts, RefreshTokenHash, Scope,
    SealedSecret, SecretDigest, SessionId, SessionRepository, TokenPurpose, Transaction,
    UnitOfWork, UserId, UserRepository, Username, WebhookDeliveryId, WebhookEndpointId,
    WebhookRepository,
};
use twofa_memory::ManualClock;

/// The stores a unit of work writes to, opened together.
pub struct Stores {
    /// Begins transactions.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Where committed jobs land.
    pub queue: Arc<dyn JobQueue>,
    /// Where committed events land.
    pub audit: Arc<dyn AuditLog>,
    /// The accounts, outside any transaction.
    pub users: Arc<dyn UserRepository>,
    /// The sessions, outside any transaction.
    pub sessions: Arc<dyn SessionRepository>,
    /// The one-time tokens, outside any transaction.
    pub one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    /// The second factors, outside any transaction.
    pub factors: Arc<dyn FactorRepository>,
    /// The backup codes, outside any transaction.
    pub backup_codes: Arc<dyn BackupCodeRepository>,
    /// The trusted devices, outside any transaction.
    pub devices: Arc<dyn DeviceRepository>,
    /// The API keys, outside any transaction.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// The webhook endpoints and deliveries, outside any transaction.
    pub webhooks: Arc<dyn WebhookRepository>,
}

/// A backend under test.
#[async_trait]
pub trait UnitOfWorkBackend: Send + Sync {
    /// New, empty stores keeping time with `clock`.
    async fn open(&self, clock: Arc<ManualClock>) -> Stores;
}

fn registered() -> NewAuditEvent {
    NewAuditEvent::new("user.registered", Actor::system(), true)
}

fn welcome() -> NewJob {
    NewJob::new("email.send", json!({"template": "verify_email"}), 5)
}

/// A committed transaction's job and event both exist.
pub async fn a_commit_keeps_the_job_and_the_event(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stores.queue.counts().await.unwrap().pending, 1);
    let job = stores
        .queue
        .claim(std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, "email.send");
    let events = stores.audit.query(&AuditQuery::all()).await.unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].event.action, "user.registered");
}

/// A job cannot outlive the transaction that enqueued it: a rolled-back change leaves no job
/// and no event.
pub async fn a_rollback_leaves_no_job_and_no_event(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    drop(tx);
    assert_eq!(stores.queue.counts().await.unwrap(), QueueCounts::default());
    assert!(
        stores
            .queue
            .claim(std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(audited(&stores).await, 0);
}

const USER: u128 = 7;
const SESSION: u128 = 70;

fn user_id() -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(USER))
}

fn session_id() -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(SESSION))
}

fn refresh(n: u8) -> RefreshTokenHash {
    RefreshTokenHash::from_bytes([n; 32])
}

fn link() -> OneTimeTokenHash {
    OneTimeTokenHash::from_bytes([9; 32])
}

/// In `tx`: an account, its session and an e-mail link, as a sign-up writes them.
async fn sign_up(tx: &dyn Transaction) {
    let now = super::start();
    tx.users()
        .create(NewUser::new(
            user_id(),
            EmailAddress::parse("ada@example.com").unwrap(),
            Username::parse("ada").unwrap(),
            PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        ))
        .await
        .unwrap();
    tx.sessions()
        .create(
            NewSession {
                id: session_id(),
                user_id: user_id(),
                amr: vec!["pwd".to_owned()],
                ip: None,
                user_agent: None,
                expires_at: now + TimeDelta::days(30),
            },
            refresh(1),
        )
        .await
        .unwrap();
    tx.one_time_tokens()
        .issue(NewOneTimeToken {
            hash: link(),
            purpose: TokenPurpose::VerifyEmail,
            user_id: user_id(),
            expires_at: now + TimeDelta::days(1),
        })
        .await
        .unwrap();
}

/// How many audit events are visible outside.
async fn audited(stores: &Stores) -> usize {
    stores
        .audit
        .query(&AuditQuery::all())
        .await
        .unwrap()
        .items
        .len()
}

/// Whether the sign-up's account, session, refresh token and link are visible outside.
async fn signed_up(stores: &Stores) -> [bool; 4] {
    [
        stores.users.find_by_login("ada").await.unwrap().is_some(),
        stores.sessions.find(session_id()).await.unwrap().is_some(),
        stores
            .sessions
            .find_by_refresh_token(refresh(1))
            .await
            .unwrap()
            .is_some(),
        stores
            .one_time_tokens
            .is_live(TokenPurpose::VerifyEmail, &link())
            .await
            .unwrap(),
    ]
}

/// A dropped transaction leaves no account, session, refresh token or link.
pub async fn a_rollback_leaves_no_repository_write(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    drop(tx);
    assert_eq!(signed_up(&stores).await, [false; 4]);
    assert_eq!(stores.queue.counts().await.unwrap(), QueueCounts::default());
    // Nothing is left behind to conflict with a retry.
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.commit().await.unwrap();
    assert_eq!(signed_up(&stores).await, [true; 4]);
}

/// Nothing of a transaction is visible outside before its commit; everything after it.
pub async fn a_commit_makes_every_write_visible_at_once(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    assert_eq!(
        signed_up(&stores).await,
        [false; 4],
        "not before the commit"
    );
    tx.commit().await.unwrap();
    assert_eq!(signed_up(&stores).await, [true; 4]);
    assert_eq!(stores.queue.counts().await.unwrap().pending, 1);
    assert_eq!(audited(&stores).await, 1);
}

/// A transaction's repositories see its own writes.
pub async fn a_transaction_reads_its_own_writes(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    let found = tx.users().find_by_login("ADA@example.com").await.unwrap();
    assert_eq!(found.map(|user| user.id), Some(user_id()));
    assert!(tx.sessions().find(session_id()).await.unwrap().is_some());
    assert_eq!(
        tx.one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link())
            .await
            .unwrap(),
        Some(user_id())
    );
    assert_eq!(
        tx.one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link())
            .await
            .unwrap(),
        None,
        "used once, inside the transaction too"
    );
    drop(tx);
}

/// A session created in a transaction is there for the transaction's later session writes
/// (an adapter that writes it at the commit writes it before they run), and its refresh token
/// rotates after the commit.
pub async fn a_transaction_ends_the_sessions_it_created(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.audit(registered()).await.unwrap();
    let ended = tx.sessions().revoke_all(user_id(), None).await.unwrap();
    assert_eq!(ended, [session_id()]);
    tx.commit().await.unwrap();
    let session = stores.sessions.find(session_id()).await.unwrap().unwrap();
    assert!(session.revoked_at.is_some(), "{session:?}");

    // A session created last, with events and a job after it, commits with them.
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    tx.sessions()
        .create(
            NewSession {
                id: SessionId::from_uuid(uuid::Uuid::from_u128(77)),
                user_id: user_id(),
                amr: vec!["pwd".to_owned(), "mfa".to_owned(), "otp".to_owned()],
                ip: None,
                user_agent: None,
                expires_at: super::start() + TimeDelta::days(30),
            },
            refresh(7),
        )
        .await
        .unwrap();
    tx.audit(registered()).await.unwrap();
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    tx.commit().await.unwrap();
    let outcome = stores
        .sessions
        .rotate(
            refresh(7),
            refresh(8),
            std::time::Duration::ZERO,
            super::start() + TimeDelta::days(30),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, twofa_domain::RotateOutcome::Rotated(_)));
    assert_eq!(stores.queue.counts().await.unwrap().pending, 1);
    assert_eq!(audited(&stores).await, 3);
}

/// A rotation inside a dropped transaction leaves the presented token current.
pub async fn a_rotation_rolls_back_with_its_transaction(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.commit().await.unwrap();
    let expires_at = super::start() + TimeDelta::days(30);
    let tx = stores.unit_of_work.begin().await.unwrap();
    let outcome = tx
        .sessions()
        .rotate(
            refresh(1),
            refresh(2),
            std::time::Duration::ZERO,
            expires_at,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, twofa_domain::RotateOutcome::Rotated(_)));
    drop(tx);
    let presented = stores
        .sessions
        .find_by_refresh_token(refresh(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(presented.rotated_at, None, "still the current token");
    assert!(
        stores
            .sessions
            .find_by_refresh_token(refresh(2))
            .await
            .unwrap()
            .is_none()
    );
}

/// Of two transactions using one link, exactly one gets its user.
pub async fn concurrent_transactions_consume_a_link_once(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.commit().await.unwrap();
    let consume = || async {
        let tx = stores.unit_of_work.begin().await.unwrap();
        let used = tx
            .one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        used
    };
    let (first, second) = futures::join!(consume(), consume());
    assert_eq!(
        [first, second].iter().filter(|used| used.is_some()).count(),
        1,
        "{first:?} {second:?}"
    );
}

fn factor_id() -> FactorId {
    FactorId::from_uuid(uuid::Uuid::from_u128(0xf7))
}

fn device_token() -> SecretDigest {
    SecretDigest::from_bytes([0xd7; 32])
}

/// In `tx`: an enabled TOTP factor of the signed-up account, its backup codes, a trusted
/// device and the account's two-factor flag, as enabling two-factor authentication writes
/// them.
async fn enable_two_factor(tx: &dyn Transaction) {
    tx.factors()
        .add_pending(NewFactor {
            id: factor_id(),
            user_id: user_id(),
            kind: FactorKind::Totp,
            secret: Some(SealedSecret {
                key_id: "k1".to_owned(),
                ciphertext: vec![7; 44],
            }),
            destination: None,
        })
        .await
        .unwrap();
    assert!(tx.factors().enable(factor_id(), Some(42)).await.unwrap());
    assert!(
        tx.users()
            .set_two_factor_enabled(user_id(), true)
            .await
            .unwrap()
    );
    tx.backup_codes()
        .replace(
            user_id(),
            (1..=10)
                .map(|n| SecretDigest::from_bytes([n; 32]))
                .collect(),
        )
        .await
        .unwrap();
    tx.devices()
        .add(NewTrustedDevice {
            id: DeviceId::from_uuid(uuid::Uuid::from_u128(0xd7)),
            user_id: user_id(),
            token_hash: device_token(),
            name: None,
            ip: None,
            user_agent: None,
            expires_at: super::start() + TimeDelta::days(30),
        })
        .await
        .unwrap();
}

/// What of [`enable_two_factor`] is visible outside: the enabled factor, the flag, the
/// number of backup codes and the trusted devices.
async fn two_factor(stores: &Stores) -> (bool, bool, u32, usize) {
    (
        stores
            .factors
            .find(user_id(), factor_id())
            .await
            .unwrap()
            .is_some(),
        stores
            .users
            .find_by_id(user_id())
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled,
        stores.backup_codes.remaining(user_id()).await.unwrap(),
        stores.devices.list(user_id()).await.unwrap().len(),
    )
}

/// A dropped transaction leaves no factor, flag, backup code or trusted device; a committed
/// one leaves all of them. Inside, the transaction reads its own writes.
pub async fn second_factor_writes_commit_or_roll_back_together(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.commit().await.unwrap();

    let tx = stores.unit_of_work.begin().await.unwrap();
    enable_two_factor(tx.as_ref()).await;
    let enabled = tx.factors().enabled(user_id()).await.unwrap();
    assert_eq!(
        enabled.iter().map(|f| f.id).collect::<Vec<_>>(),
        [factor_id()]
    );
    assert_eq!(tx.backup_codes().remaining(user_id()).await.unwrap(), 10);
    assert!(
        tx.devices()
            .use_token(user_id(), &device_token())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        two_factor(&stores).await,
        (false, false, 0, 0),
        "not before the commit"
    );
    drop(tx);
    assert_eq!(two_factor(&stores).await, (false, false, 0, 0));

    let tx = stores.unit_of_work.begin().await.unwrap();
    enable_two_factor(tx.as_ref()).await;
    tx.commit().await.unwrap();
    assert_eq!(two_factor(&stores).await, (true, true, 10, 1));
}

/// Of two transactions accepting one TOTP step, exactly one is accepted.
pub async fn concurrent_transactions_accept_a_step_once(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    enable_two_factor(tx.as_ref()).await;
    tx.commit().await.unwrap();
    let advance = || async {
        let tx = stores.unit_of_work.begin().await.unwrap();
        let accepted = tx.factors().advance_step(factor_id(), 43).await.unwrap();
        tx.commit().await.unwrap();
        accepted
    };
    let (first, second) = futures::join!(advance(), advance());
    assert_eq!(
        [first, second].iter().filter(|accepted| **accepted).count(),
        1,
        "{first:?} {second:?}"
    );
}

fn api_key(n: u128) -> ApiKeyId {
    ApiKeyId::from_uuid(uuid::Uuid::from_u128(0xa700 + n))
}

fn api_key_hash(n: u8) -> SecretDigest {
    SecretDigest::from_bytes([0xa0 | n; 32])
}

/// In `tx`: the signed-up account's API key `n`.
async fn make_api_key(tx: &dyn Transaction, n: u8) {
    tx.api_keys()
        .add(NewApiKey {
            id: api_key(u128::from(n)),
            user_id: user_id(),
            name: format!("Key {n}"),
            prefix: format!("tfa_0000000{n}"),
            key_hash: api_key_hash(n),
            scopes: vec![Scope::All],
            expires_at: None,
        })
        .await
        .unwrap();
}

/// What of the API keys is visible outside: the keys listed, and whether hashes 1, 2 and 3
/// find a key.
async fn api_keys(stores: &Stores) -> (Vec<ApiKeyId>, [bool; 3]) {
    let listed = stores.api_keys.list(user_id()).await.unwrap();
    let mut found = [false; 3];
    for (n, found) in (1..).zip(&mut found) {
        *found = stores
            .api_keys
            .find_by_hash(&api_key_hash(n))
            .await
            .unwrap()
            .is_some();
    }
    (listed.iter().map(|key| key.id).collect(), found)
}

/// A dropped transaction leaves no new API key, no rotation and no revocation; a committed
/// one leaves all of them. Inside, the transaction reads its own writes.
pub async fn api_key_writes_commit_or_roll_back_together(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    make_api_key(tx.as_ref(), 1).await;
    tx.commit().await.unwrap();
    let before = (vec![api_key(1)], [true, false, false]);
    assert_eq!(api_keys(&stores).await, before);

    let change = |tx: Box<dyn Transaction>| async move {
        make_api_key(tx.as_ref(), 2).await;
        let rotated = tx
            .api_keys()
            .rotate(
                user_id(),
                api_key(1),
                api_key_hash(3),
                "tfa_00000003".to_owned(),
            )
            .await
            .unwrap();
        assert!(rotated.is_some());
        let revoked = tx.api_keys().revoke(user_id(), api_key(2)).await.unwrap();
        assert!(revoked.is_some_and(|key| key.revoked_at.is_some()));
        assert!(
            tx.api_keys()
                .find_by_hash(&api_key_hash(2))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            tx.api_keys()
                .find_by_hash(&api_key_hash(1))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(tx.api_keys().list(user_id()).await.unwrap().len(), 2);
        tx
    };
    let tx = change(stores.unit_of_work.begin().await.unwrap()).await;
    assert_eq!(api_keys(&stores).await, before, "not before the commit");
    drop(tx);
    assert_eq!(api_keys(&stores).await, before);

    let tx = change(stores.unit_of_work.begin().await.unwrap()).await;
    tx.commit().await.unwrap();
    let (mut listed, found) = api_keys(&stores).await;
    listed.sort_unstable();
    assert_eq!(
        (listed, found),
        (vec![api_key(1), api_key(2)], [false, true, true])
    );
    let revoked = stores.api_keys.get(user_id(), api_key(2)).await.unwrap();
    assert!(revoked.is_some_and(|key| key.revoked_at.is_some()));
}

/// Of two transactions revoking one API key, exactly one gets it.
pub async fn concurrent_transactions_revoke_an_api_key_once(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    make_api_key(tx.as_ref(), 1).await;
    tx.commit().await.unwrap();
    let revoke = || async {
        let tx = stores.unit_of_work.begin().await.unwrap();
        let revoked = tx.api_keys().revoke(user_id(), api_key(1)).await.unwrap();
        tx.commit().await.unwrap();
        revoked
    };
    let (first, second) = futures::join!(revoke(), revoke());
    assert_eq!(
        [&first, &second].iter().filter(|key| key.is_some()).count(),
        1,
        "{first:?} {second:?}"
    );
}

fn webhook_endpoint() -> WebhookEndpointId {
    WebhookEndpointId::from_uuid(uuid::Uuid::from_u128(0xe700))
}

fn webhook_delivery() -> WebhookDeliveryId {
    WebhookDeliveryId::from_uuid(uuid::Uuid::from_u128(0xd700))
}

fn webhook_secret(n: u8) -> SealedSecret {
    SealedSecret {
        key_id: "k1".to_owned(),
        ciphertext: vec![n; 60],
    }
}

/// In `tx`: the signed-up account's webhook endpoint, receiving every event.
async fn make_webhook_endpoint(tx: &dyn Transaction) {
    tx.webhooks()
        .add_endpoint(NewWebhookEndpoint {
            id: webhook_endpoint(),
            owner: Some(user_id()),
            url: "https://hooks.example.com/twofa".to_owned(),
            events: vec!["*".to_owned()],
            description: None,
            secret: webhook_secret(1),
        })
        .await
        .unwrap();
}

/// In `tx`: a delivery of one event to the endpoint.
async fn make_webhook_delivery(tx: &dyn Transaction) {
    tx.webhooks()
        .add_delivery(NewWebhookDelivery {
            id: webhook_delivery(),
            endpoint_id: webhook_endpoint(),
            event_id: "msg_1".to_owned(),
            event_type: "user.registered".to_owned(),
            payload: json!({"type": "user.registered", "data": {}}),
        })
        .await
        .unwrap();
}

fn retry_later() -> DeliveryAttempt {
    DeliveryAttempt {
        at: super::start(),
        response_status: Some(500),
        duration_ms: 30,
        response_body: None,
        outcome: AttemptOutcome::WillRetry,
    }
}

/// What of the webhooks is visible outside: the endpoint's secret and its delivery's attempts.
async fn webhooks(stores: &Stores) -> (Option<SealedSecret>, Option<u32>) {
    let endpoint = stores
        .webhooks
        .get_endpoint(Some(user_id()), webhook_endpoint())
        .await
        .unwrap();
    let delivery = stores
        .webhooks
        .find_delivery(webhook_delivery())
        .await
        .unwrap();
    (
        endpoint.map(|endpoint| endpoint.secret),
        delivery.map(|delivery| delivery.attempts),
    )
}

/// A dropped transaction leaves no new endpoint, delivery, attempt or rotation, and no
/// deletion; a committed one leaves all of them. Inside, the transaction reads its own writes.
pub async fn webhook_writes_commit_or_roll_back_together(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    tx.commit().await.unwrap();

    let change = |tx: Box<dyn Transaction>| async move {
        make_webhook_endpoint(tx.as_ref()).await;
        make_webhook_delivery(tx.as_ref()).await;
        let attempted = tx
            .webhooks()
            .record_attempt(webhook_delivery(), retry_later())
            .await
            .unwrap();
        assert_eq!(attempted.map(|delivery| delivery.attempts), Some(1));
        let rotated = tx
            .webhooks()
            .rotate_secret(
                Some(user_id()),
                webhook_endpoint(),
                webhook_secret(2),
                super::start() + TimeDelta::hours(24),
            )
            .await
            .unwrap();
        assert_eq!(
            rotated.and_then(|endpoint| endpoint.previous_secret),
            Some(webhook_secret(1))
        );
        let subscribers = tx
            .webhooks()
            .subscribers(Some(user_id()), "user.registered")
            .await
            .unwrap();
        assert_eq!(
            subscribers
                .iter()
                .map(|endpoint| endpoint.id)
                .collect::<Vec<_>>(),
            [webhook_endpoint()]
        );
        let listed = tx
            .webhooks()
            .list_deliveries(webhook_endpoint(), 10, None)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        tx
    };
    let tx = change(stores.unit_of_work.begin().await.unwrap()).await;
    assert_eq!(
        webhooks(&stores).await,
        (None, None),
        "not before the commit"
    );
    drop(tx);
    assert_eq!(webhooks(&stores).await, (None, None));

    let tx = change(stores.unit_of_work.begin().await.unwrap()).await;
    tx.commit().await.unwrap();
    assert_eq!(webhooks(&stores).await, (Some(webhook_secret(2)), Some(1)));

    let tx = stores.unit_of_work.begin().await.unwrap();
    assert!(
        tx.webhooks()
            .delete_endpoint(Some(user_id()), webhook_endpoint())
            .await
            .unwrap()
    );
    assert_eq!(
        tx.webhooks()
            .find_delivery(webhook_delivery())
            .await
            .unwrap(),
        None,
        "its deliveries go with it"
    );
    drop(tx);
    assert_eq!(webhooks(&stores).await, (Some(webhook_secret(2)), Some(1)));
    let tx = stores.unit_of_work.begin().await.unwrap();
    assert!(
        tx.webhooks()
            .delete_endpoint(Some(user_id()), webhook_endpoint())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(webhooks(&stores).await, (None, None));
}

/// Of two transactions each recording a failure of one endpoint, neither failure is lost; of
/// two each finishing one pending delivery, exactly one writes.
pub async fn concurrent_transactions_keep_every_webhook_outcome(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let tx = stores.unit_of_work.begin().await.unwrap();
    sign_up(tx.as_ref()).await;
    make_webhook_endpoint(tx.as_ref()).await;
    make_webhook_delivery(tx.as_ref()).await;
    tx.commit().await.unwrap();

    let fail = || async {
        let tx = stores.unit_of_work.begin().await.unwrap();
        let endpoint = tx
            .webhooks()
            .record_endpoint_outcome(webhook_endpoint(), false, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        endpoint.map(|endpoint| endpoint.consecutive_failures)
    };
    let (first, second) = futures::join!(fail(), fail());
    let mut counts = [first, second];
    counts.sort_unstable();
    assert_eq!(counts, [Some(1), Some(2)]);

    let finish = || async {
        let tx = stores.unit_of_work.begin().await.unwrap();
        let delivery = tx
            .webhooks()
            .record_attempt(
                webhook_delivery(),
                DeliveryAttempt {
                    outcome: AttemptOutcome::Delivered,
                    response_status: Some(200),
                    ..retry_later()
                },
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        delivery
    };
    let (first, second) = futures::join!(finish(), finish());
    assert_eq!(
        [&first, &second]
            .iter()
            .filter(|delivery| delivery.is_some())
            .count(),
        1,
        "{first:?} {second:?}"
    );
    assert_eq!(webhooks(&stores).await.1, Some(1));
}

/// Instantiates every case for `$backend` (an expression implementing `UnitOfWorkBackend`).
#[macro_export]
macro_rules! unit_of_work_contract {
    ($backend:expr) => {
        $crate::unit_of_work_contract!(@cases $backend;
            a_commit_keeps_the_job_and_the_event,
            a_rollback_leaves_no_job_and_no_event,
            a_rollback_leaves_no_repository_write,
            a_commit_makes_every_write_visible_at_once,
            a_transaction_reads_its_own_writes,
            a_transaction_ends_the_sessions_it_created,
            a_rotation_rolls_back_with_its_transaction,
            concurrent_transactions_consume_a_link_once,
            second_factor_writes_commit_or_roll_back_together,
            concurrent_transactions_accept_a_step_once,
            api_key_writes_commit_or_roll_back_together,
            concurrent_transactions_revoke_an_api_key_once,
            webhook_writes_commit_or_roll_back_together,
            concurrent_transactions_keep_every_webhook_outcome,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::unit_of_work::$case(&$backend).await;
            }
        )*
    };
}
