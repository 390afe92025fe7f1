//! `Enrolment`: what enabling a factor does inside its transaction — the factor confirmed,
//! the account marked as having a second factor, backup codes issued when it is the first,
//! every trusted device ended (a factor changed), and the events recorded.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    BACKUP_CODE_COUNT, BackupCode, Factor, SecretCipher, SecretGenerator, Transaction, UserId,
};

use super::keys::BACKUP_CODE_PURPOSE;
use crate::{
    auth::{Fault, RequestInfo, user_event},
    webhook_events::record,
};

/// Enables factors and issues backup codes.
#[derive(Clone)]
pub(crate) struct Enrolment {
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
}

/// How enabling went.
pub(crate) enum Enabled {
    /// The factor was not pending any more (a concurrent confirmation won).
    NotPending,
    /// Enabled; the backup codes when it is the user's first factor.
    Done(Option<Vec<String>>),
}

impl Enrolment {
    /// Enables the pending `factor` in `transaction`, its TOTP replay guard at `step`.
    pub(crate) async fn enable(
        &self,
        transaction: &mut dyn Transaction,
        factor: &Factor,
        step: Option<i64>,
        request: &RequestInfo,
    ) -> Result<Enabled, Fault> {
        if !transaction.factors().enable(factor.id, step).await? {
            return Ok(Enabled::NotPending);
        }
        let user_id = factor.user_id;
        let enabled = transaction.factors().enabled(user_id).await?;
        let is_first = enabled.iter().all(|other| other.id == factor.id);
        let codes = if is_first {
            Some(
                self.issue_backup_codes(transaction, user_id, request)
                    .await?,
            )
        } else {
            None
        };
        transaction
            .users()
            .set_two_factor_enabled(user_id, true)
            .await?;
        let devices = transaction.devices().revoke_all(user_id).await?;
        let mut details =
            json!({ "factorId": factor.id.to_string(), "type": factor.kind.as_str() });
        if let Some(masked) = factor.masked_destination() {
            details["maskedDestination"] = json!(masked);
        }
        if devices > 0 {
            details["devicesRevoked"] = json!(devices);
        }
        record(
            transaction,
            user_event("2fa.enabled", Some(user_id), true, request, details),
        )
        .await?;
        Ok(Enabled::Done(codes))
    }

    /// Replaces the user's backup codes with 10 new ones, recorded as
    /// `2fa.backup_codes.generated`; the codes as shown once.
    pub(crate) async fn issue_backup_codes(
        &self,
        transaction: &mut dyn Transaction,
        user_id: UserId,
        request: &RequestInfo,
    ) -> Result<Vec<String>, Fault> {
        let codes: Vec<BackupCode> = (0..BACKUP_CODE_COUNT)
            .map(|_| BackupCode::generate(self.ids.as_ref()))
            .collect();
        let hashes = codes
            .iter()
            .map(|code| {
                self.cipher
                    .digest(BACKUP_CODE_PURPOSE, code.canonical().as_bytes())
            })
            .collect();
        transaction.backup_codes().replace(user_id, hashes).await?;
        record(
            transaction,
            user_event(
                "2fa.backup_codes.generated",
                Some(user_id),
                true,
                request,
                json!({ "count": BACKUP_CODE_COUNT }),
            ),
        )
        .await?;
        Ok(codes.iter().map(BackupCode::display).collect())
    }
}
