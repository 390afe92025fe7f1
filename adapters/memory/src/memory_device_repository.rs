//! `MemoryDeviceRepository`: the `DeviceRepository` port in process memory, outside or inside
//! a memory transaction.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, DeviceId, DeviceRepository, NewTrustedDevice, PortError, SecretDigest, TrustedDevice,
    UserId,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// A device as kept: the device and its token's hash.
#[derive(Debug, Clone)]
struct StoredDevice {
    device: TrustedDevice,
    token_hash: SecretDigest,
}

/// Devices in a map by id: the rules of the port, shared by the plain repository and the
/// transaction-bound one. A revoked device is deleted, as the SQL adapter does.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceTable {
    devices: HashMap<DeviceId, StoredDevice>,
}

impl DeviceTable {
    /// Stores `device`, trusted at `now`, unless its id or token hash is already stored.
    fn add(&mut self, device: NewTrustedDevice, now: DateTime<Utc>) -> Result<(), PortError> {
        if self.devices.contains_key(&device.id)
            || self
                .devices
                .values()
                .any(|stored| stored.token_hash == device.token_hash)
        {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "trusting a device: the id or the token hash is already stored"
            )));
        }
        self.devices.insert(
            device.id,
            StoredDevice {
                device: TrustedDevice {
                    id: device.id,
                    user_id: device.user_id,
                    name: device.name,
                    ip: device.ip,
                    user_agent: device.user_agent,
                    created_at: now,
                    last_used_at: now,
                    expires_at: device.expires_at.trunc_subsecs(6),
                },
                token_hash: device.token_hash,
            },
        );
        Ok(())
    }

    /// The user's device live at `now` with `token_hash`, stamped used at `now`.
    fn use_token(
        &mut self,
        user_id: UserId,
        token_hash: &SecretDigest,
        now: DateTime<Utc>,
    ) -> Option<TrustedDevice> {
        self.devices
            .values_mut()
            .find(|stored| {
                stored.device.user_id == user_id
                    && now < stored.device.expires_at
                    && stored.token_hash == *token_hash
            })
            .map(|stored| {
                stored.device.last_used_at = now;
                stored.device.clone()
            })
    }

    /// The user's devices live at `now`, newest first.
    fn list(&self, user_id: UserId, now: DateTime<Utc>) -> Vec<TrustedDevice> {
        let mut live: Vec<TrustedDevice> = self
            .devices
            .values()
            .map(|stored| &stored.device)
            .filter(|device| device.user_id == user_id && now < device.expires_at)
            .cloned()
            .collect();
        live.sort_by_key(|device| Reverse((device.created_at, device.id)));
        live
    }

    /// Deletes the user's devices `is_revoked` picks; how many of them were live at `now`.
    fn revoke(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
        is_revoked: impl Fn(&TrustedDevice) -> bool,
    ) -> u64 {
        let mut live = 0;
        self.devices.retain(|_, stored| {
            let device = &stored.device;
            if device.user_id != user_id || !is_revoked(device) {
                return true;
            }
            if now < device.expires_at {
                live += 1;
            }
            false
        });
        live
    }

    /// Deletes the devices expired before `before`; how many.
    fn purge_expired(&mut self, before: DateTime<Utc>) -> u64 {
        let count = self.devices.len();
        self.devices
            .retain(|_, stored| stored.device.expires_at >= before);
        u64::try_from(count - self.devices.len()).unwrap_or(u64::MAX)
    }
}

/// Trusted devices in a [`MemoryDatabase`], or in a transaction's staged copy of them.
pub struct MemoryDeviceRepository {
    scope: Scope,
}

impl MemoryDeviceRepository {
    /// No devices, in a database of its own; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The trusted devices of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl DeviceRepository for MemoryDeviceRepository {
    async fn add(&self, device: NewTrustedDevice) -> Result<(), PortError> {
        self.scope
            .write(|table: &mut DeviceTable, now| table.add(device, now))
            .await
    }

    async fn use_token(
        &self,
        user_id: UserId,
        token_hash: &SecretDigest,
    ) -> Result<Option<TrustedDevice>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut DeviceTable, now| table.use_token(user_id, token_hash, now))
            .await)
    }

    async fn list(&self, user_id: UserId) -> Result<Vec<TrustedDevice>, PortError> {
        let now = self.scope.now();
        Ok(self
            .scope
            .read(|table: &DeviceTable| table.list(user_id, now))
            .await)
    }

    async fn revoke(&self, user_id: UserId, id: DeviceId) -> Result<bool, PortError> {
        let live = self
            .scope
            .write(|table: &mut DeviceTable, now| {
                table.revoke(user_id, now, |device| device.id == id)
            })
            .await;
        Ok(live > 0)
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut DeviceTable, now| table.revoke(user_id, now, |_| true))
            .await)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut DeviceTable, _| table.purge_expired(before))
            .await)
    }
}
