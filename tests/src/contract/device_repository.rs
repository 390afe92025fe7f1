//! The `DeviceRepository` contract: a live token answers its device and stamps its use; an
//! expired, revoked, unknown or other user's token answers nothing; the list holds a user's
//! live devices, newest first; `revoke` and `revoke_all` count the live devices they end;
//! `purge_expired` deletes what expired before the cut-off.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    Clock as _, DeviceId, DeviceRepository, NewTrustedDevice, SecretDigest, TrustedDevice,
};
use twofa_memory::ManualClock;

use super::user;

/// A backend under test.
#[async_trait]
pub trait DeviceRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where devices must
    /// belong to an existing account, the accounts [`user`]`(1)`–`user(3)` exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn DeviceRepository>, Arc<dyn DeviceRepository>);
}

/// The device numbered `n`.
pub fn device_id(n: u128) -> DeviceId {
    DeviceId::from_uuid(uuid::Uuid::from_u128(0xd000 + n))
}

/// The token hash of device `n`.
pub fn token(n: u8) -> SecretDigest {
    let mut bytes = [n; 32];
    bytes[0] = 0xde;
    SecretDigest::from_bytes(bytes)
}

/// Device `n` of user `user_n`, trusted until `expires_at`.
pub fn device(n: u8, user_n: u128, expires_at: DateTime<Utc>) -> NewTrustedDevice {
    NewTrustedDevice {
        id: device_id(u128::from(n)),
        user_id: user(user_n),
        token_hash: token(n),
        name: Some(format!("Laptop {n}")),
        ip: Some(IpAddr::from([203, 0, 113, n])),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".to_owned()),
        expires_at,
    }
}

fn in_30_days() -> DateTime<Utc> {
    super::start() + TimeDelta::days(30)
}

async fn one(
    backend: &dyn DeviceRepositoryBackend,
) -> (Arc<dyn DeviceRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (devices, _) = backend.open(clock.clone()).await;
    (devices, clock)
}

fn ids(devices: &[TrustedDevice]) -> Vec<DeviceId> {
    devices.iter().map(|device| device.id).collect()
}

/// A live token answers its device with every field kept and its use stamped.
pub async fn a_live_token_answers_its_device(backend: &dyn DeviceRepositoryBackend) {
    let clock = super::clock();
    let (devices, other) = backend.open(clock.clone()).await;
    let trusted = device(1, 1, in_30_days());
    devices.add(trusted.clone()).await.unwrap();
    let bare = NewTrustedDevice {
        name: None,
        ip: Some("2001:db8::1".parse().unwrap()),
        user_agent: None,
        ..device(2, 1, in_30_days())
    };
    devices.add(bare.clone()).await.unwrap();
    clock.advance(TimeDelta::days(2));

    let used = other.use_token(user(1), &token(1)).await.unwrap();
    assert_eq!(
        used,
        Some(TrustedDevice {
            id: trusted.id,
            user_id: trusted.user_id,
            name: trusted.name,
            ip: trusted.ip,
            user_agent: trusted.user_agent,
            created_at: super::start(),
            last_used_at: clock.now(),
            expires_at: trusted.expires_at,
        })
    );
    let used = devices
        .use_token(user(1), &token(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((used.name, used.ip, used.user_agent), (None, bare.ip, None));
    clock.advance(TimeDelta::days(1));
    assert!(
        devices
            .use_token(user(1), &token(1))
            .await
            .unwrap()
            .is_some(),
        "reusable"
    );
    let listed = devices.list(user(1)).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|d| d.id == device_id(1))
            .map(|d| d.last_used_at),
        Some(clock.now())
    );
}

/// A token works until just before `expires_at`; from that instant it answers nothing.
pub async fn refuses_an_expired_token(backend: &dyn DeviceRepositoryBackend) {
    let (devices, clock) = one(backend).await;
    let expires_at = super::start() + TimeDelta::hours(1);
    devices.add(device(1, 1, expires_at)).await.unwrap();
    clock.advance(TimeDelta::hours(1) - TimeDelta::microseconds(1));
    assert!(
        devices
            .use_token(user(1), &token(1))
            .await
            .unwrap()
            .is_some()
    );
    clock.advance(TimeDelta::microseconds(1));
    assert_eq!(devices.use_token(user(1), &token(1)).await.unwrap(), None);
    clock.advance(TimeDelta::days(1));
    assert_eq!(devices.use_token(user(1), &token(1)).await.unwrap(), None);
}

/// Another user's token and an unknown one answer nothing.
pub async fn refuses_another_users_token(backend: &dyn DeviceRepositoryBackend) {
    let (devices, _) = one(backend).await;
    devices.add(device(1, 1, in_30_days())).await.unwrap();
    assert_eq!(devices.use_token(user(2), &token(1)).await.unwrap(), None);
    assert_eq!(devices.use_token(user(1), &token(9)).await.unwrap(), None);
    assert!(
        devices
            .use_token(user(1), &token(1))
            .await
            .unwrap()
            .is_some()
    );
}

/// A user's live devices, newest first; expired, revoked and other users' devices are left
/// out.
pub async fn lists_live_devices_newest_first(backend: &dyn DeviceRepositoryBackend) {
    let (devices, clock) = one(backend).await;
    assert!(devices.list(user(1)).await.unwrap().is_empty());
    devices.add(device(1, 1, in_30_days())).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    devices
        .add(device(2, 1, super::start() + TimeDelta::hours(1)))
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(1));
    devices.add(device(3, 1, in_30_days())).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    devices.add(device(4, 1, in_30_days())).await.unwrap();
    devices.add(device(5, 2, in_30_days())).await.unwrap();
    assert_eq!(
        ids(&devices.list(user(1)).await.unwrap()),
        [device_id(4), device_id(3), device_id(2), device_id(1)]
    );
    assert!(devices.revoke(user(1), device_id(3)).await.unwrap());
    clock.advance(TimeDelta::hours(1));
    assert_eq!(
        ids(&devices.list(user(1)).await.unwrap()),
        [device_id(4), device_id(1)]
    );
    assert_eq!(ids(&devices.list(user(2)).await.unwrap()), [device_id(5)]);
}

/// `revoke` ends one live device of the user, once; `revoke_all` ends every one, counting
/// the live ones; an ended device's token answers nothing.
pub async fn revokes_one_device_or_all_of_a_users(backend: &dyn DeviceRepositoryBackend) {
    let (devices, clock) = one(backend).await;
    for n in 1..=3 {
        devices.add(device(n, 1, in_30_days())).await.unwrap();
    }
    devices
        .add(device(4, 1, super::start() + TimeDelta::hours(1)))
        .await
        .unwrap();
    devices.add(device(5, 2, in_30_days())).await.unwrap();
    devices
        .add(device(6, 2, super::start() + TimeDelta::hours(1)))
        .await
        .unwrap();
    clock.advance(TimeDelta::hours(2));

    assert!(
        !devices.revoke(user(2), device_id(1)).await.unwrap(),
        "not theirs"
    );
    assert!(devices.revoke(user(1), device_id(1)).await.unwrap());
    assert!(!devices.revoke(user(1), device_id(1)).await.unwrap());
    assert!(
        !devices.revoke(user(2), device_id(6)).await.unwrap(),
        "expired"
    );
    assert!(!devices.revoke(user(1), device_id(9)).await.unwrap());
    assert_eq!(devices.use_token(user(1), &token(1)).await.unwrap(), None);

    assert_eq!(devices.revoke_all(user(1)).await.unwrap(), 2);
    for n in 1..=4 {
        assert_eq!(
            devices.use_token(user(1), &token(n)).await.unwrap(),
            None,
            "device {n}"
        );
    }
    assert!(devices.list(user(1)).await.unwrap().is_empty());
    assert_eq!(devices.revoke_all(user(1)).await.unwrap(), 0);
    assert!(
        devices
            .use_token(user(2), &token(5))
            .await
            .unwrap()
            .is_some()
    );
}

/// `purge_expired` deletes the devices that expired before the cut-off, counting them.
pub async fn purges_devices_expired_before_the_cut_off(backend: &dyn DeviceRepositoryBackend) {
    let (devices, clock) = one(backend).await;
    let start = super::start();
    devices
        .add(device(1, 1, start + TimeDelta::hours(1)))
        .await
        .unwrap();
    devices
        .add(device(2, 2, start + TimeDelta::hours(2)))
        .await
        .unwrap();
    devices.add(device(3, 1, in_30_days())).await.unwrap();
    clock.advance(TimeDelta::days(1));

    assert_eq!(
        devices
            .purge_expired(start + TimeDelta::hours(1))
            .await
            .unwrap(),
        0,
        "expired at the cut-off, not before it"
    );
    assert_eq!(
        devices
            .purge_expired(start + TimeDelta::hours(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(devices.purge_expired(clock.now()).await.unwrap(), 1);
    assert_eq!(devices.purge_expired(clock.now()).await.unwrap(), 0);
    assert!(
        devices
            .use_token(user(1), &token(3))
            .await
            .unwrap()
            .is_some()
    );
}

/// Instantiates the `DeviceRepository` contract for `$backend` (an expression whose value
/// implements [`DeviceRepositoryBackend`]).
#[macro_export]
macro_rules! device_repository_contract {
    ($backend:expr) => {
        $crate::device_repository_contract!(@cases $backend;
            a_live_token_answers_its_device,
            refuses_an_expired_token,
            refuses_another_users_token,
            lists_live_devices_newest_first,
            revokes_one_device_or_all_of_a_users,
            purges_devices_expired_before_the_cut_off,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::device_repository::$case(&$backend).await;
            }
        )*
    };
}
