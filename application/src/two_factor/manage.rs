//! Managing second factors: the enabled factors (listed masked, removed with recent
//! authentication; removing the last turns second factors off and deletes the backup codes),
//! the backup codes (counted, regenerated with recent authentication), and the trusted
//! devices (listed, revoked one by one or all). Every change ends the user's trusted devices
//! when a factor changed, and records its events in its transaction.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    BackupCodeRepository, DeviceId, DeviceRepository, Factor, FactorId, FactorRepository,
    TrustedDevice, UnitOfWork, User, UserId, UserRepository,
};

use super::{
    ManageError, RevokeDeviceError,
    enrolment::Enrolment,
    recent_auth::{Reauthentication, RecentAuth},
};
use crate::{
    auth::{Fault, RequestInfo, user_event},
    webhook_events::record,
};

/// The caller's account, if it is still there and active.
async fn account(users: &dyn UserRepository, user_id: UserId) -> Result<User, ManageError> {
    match users.find_by_id(user_id).await? {
        Some(user) if user.is_active => Ok(user),
        Some(_) | None => Err(ManageError::Unauthorized),
    }
}

/// Lists the caller's enabled factors.
pub struct ListFactors {
    pub(crate) factors: Arc<dyn FactorRepository>,
}

impl ListFactors {
    /// The enabled factors, oldest first (pending setups are not listed).
    ///
    /// # Errors
    /// `Fault`.
    pub async fn execute(&self, user_id: UserId) -> Result<Vec<Factor>, Fault> {
        Ok(self.factors.enabled(user_id).await?)
    }
}

/// What removing a factor takes.
#[derive(Debug, Clone)]
pub struct RemoveFactorInput {
    /// The caller.
    pub user_id: UserId,
    /// The factor.
    pub factor_id: FactorId,
    /// The recent authentication.
    pub proof: Reauthentication,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Removes one of the caller's factors.
pub struct RemoveFactor {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) recent: RecentAuth,
}

impl RemoveFactor {
    /// Checks the recent authentication and removes the factor; the last one turns second
    /// factors off and deletes the backup codes. Every trusted device ends.
    ///
    /// # Errors
    /// `NotFound` (no such enabled factor of the caller), `ReauthenticationRequired`,
    /// `InvalidCredentials`, `InvalidCode`, `RateLimited`, `Overloaded`, `Invalid`,
    /// `Unauthorized`, `Fault`.
    #[tracing::instrument(name = "remove_factor", skip_all)]
    pub async fn execute(&self, input: RemoveFactorInput) -> Result<(), ManageError> {
        let user = account(self.users.as_ref(), input.user_id).await?;
        let Some(factor) = self
            .factors
            .find(user.id, input.factor_id)
            .await?
            .filter(Factor::is_enabled)
        else {
            return Err(ManageError::NotFound);
        };
        self.recent
            .check(&user, &input.proof, &input.request)
            .await?;
        let mut transaction = self.unit_of_work.begin().await?;
        if !transaction.factors().remove(user.id, factor.id).await? {
            return Err(ManageError::NotFound);
        }
        let is_last = transaction.factors().enabled(user.id).await?.is_empty();
        if is_last {
            transaction.backup_codes().remove_all(user.id).await?;
            transaction
                .users()
                .set_two_factor_enabled(user.id, false)
                .await?;
        }
        let devices = transaction.devices().revoke_all(user.id).await?;
        let mut details = json!({
            "factorId": factor.id.to_string(),
            "type": factor.kind.as_str(),
            "twoFactorEnabled": !is_last,
            "devicesRevoked": devices,
        });
        if let Some(masked) = factor.masked_destination() {
            details["maskedDestination"] = json!(masked);
        }
        record(
            transaction.as_mut(),
            user_event("2fa.disabled", Some(user.id), true, &input.request, details),
        )
        .await?;
        crate::auth::commit(transaction, &input.request).await?;
        Ok(())
    }
}

/// Counts the caller's unused backup codes.
pub struct CountBackupCodes {
    pub(crate) backup_codes: Arc<dyn BackupCodeRepository>,
}

impl CountBackupCodes {
    /// How many unused backup codes remain (0 when none were issued).
    ///
    /// # Errors
    /// `Fault`.
    pub async fn execute(&self, user_id: UserId) -> Result<u32, Fault> {
        Ok(self.backup_codes.remaining(user_id).await?)
    }
}

/// What regenerating backup codes takes.
#[derive(Debug, Clone)]
pub struct RegenerateBackupCodesInput {
    /// The caller.
    pub user_id: UserId,
    /// The recent authentication.
    pub proof: Reauthentication,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Replaces the caller's backup codes.
pub struct RegenerateBackupCodes {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) recent: RecentAuth,
    pub(crate) enrolment: Enrolment,
}

impl RegenerateBackupCodes {
    /// Checks the recent authentication and issues 10 new codes, every earlier one dead.
    ///
    /// # Errors
    /// `NotEnabled` (no second factor), and as [`RemoveFactor::execute`].
    #[tracing::instrument(name = "regenerate_backup_codes", skip_all)]
    pub async fn execute(
        &self,
        input: RegenerateBackupCodesInput,
    ) -> Result<Vec<String>, ManageError> {
        let user = account(self.users.as_ref(), input.user_id).await?;
        if !user.two_factor_enabled {
            return Err(ManageError::NotEnabled);
        }
        self.recent
            .check(&user, &input.proof, &input.request)
            .await?;
        let mut transaction = self.unit_of_work.begin().await?;
        let codes = self
            .enrolment
            .issue_backup_codes(transaction.as_mut(), user.id, &input.request)
            .await?;
        crate::auth::commit(transaction, &input.request).await?;
        Ok(codes)
    }
}

/// Lists the caller's trusted devices.
pub struct ListDevices {
    pub(crate) devices: Arc<dyn DeviceRepository>,
}

impl ListDevices {
    /// The live devices, newest first.
    ///
    /// # Errors
    /// `Fault`.
    pub async fn execute(&self, user_id: UserId) -> Result<Vec<TrustedDevice>, Fault> {
        Ok(self.devices.list(user_id).await?)
    }
}

/// Ends trusted devices.
pub struct RevokeDevices {
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
}

impl RevokeDevices {
    /// Ends the caller's device `id` (`None`: every device), recorded as `device.revoked`.
    ///
    /// # Errors
    /// `NotFound` for an unknown device (another user's alike), `Fault`.
    #[tracing::instrument(name = "revoke_devices", skip_all)]
    pub async fn execute(
        &self,
        user_id: UserId,
        id: Option<DeviceId>,
        request: &RequestInfo,
    ) -> Result<(), RevokeDeviceError> {
        let mut transaction = self.unit_of_work.begin().await?;
        let details = if let Some(id) = id {
            if !transaction.devices().revoke(user_id, id).await? {
                return Err(RevokeDeviceError::NotFound);
            }
            json!({ "deviceId": id.to_string() })
        } else {
            let count = transaction.devices().revoke_all(user_id).await?;
            json!({ "all": true, "count": count })
        };
        record(
            transaction.as_mut(),
            user_event("device.revoked", Some(user_id), true, request, details),
        )
        .await?;
        crate::auth::commit(transaction, request).await?;
        Ok(())
    }
}
