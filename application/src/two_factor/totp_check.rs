//! `TotpCheck`: opens a TOTP factor's sealed secret (bound to the factor's id) and finds the
//! time step a presented code belongs to. Accepting the step is the caller's atomic
//! `FactorRepository::advance_step` (or `enable` at setup).

use std::sync::Arc;

use twofa_domain::{CipherError, Clock, Factor, FactorId, SecretCipher, TotpPolicy, TotpSecret};

/// Checks TOTP codes.
#[derive(Clone)]
pub(crate) struct TotpCheck {
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: TotpPolicy,
}

/// The associated data a factor's secret is sealed with: its id.
pub(crate) fn secret_binding(id: FactorId) -> [u8; 16] {
    *id.as_uuid().as_bytes()
}

impl TotpCheck {
    /// The factor's secret.
    pub(crate) fn secret(&self, factor: &Factor) -> Result<TotpSecret, CipherError> {
        let Some(sealed) = &factor.secret else {
            return Err(CipherError::Corrupt);
        };
        let bytes = self.cipher.open(sealed, &secret_binding(factor.id))?;
        Ok(TotpSecret::from_bytes(bytes.to_vec()))
    }

    /// The step `code` belongs to, within the skew of now, if any.
    pub(crate) fn matching_step(
        &self,
        factor: &Factor,
        code: &str,
    ) -> Result<Option<i64>, CipherError> {
        let secret = self.secret(factor)?;
        let now = u64::try_from(self.clock.now().timestamp()).unwrap_or(0);
        Ok(self
            .policy
            .matching_step(&secret, code, now)
            .and_then(|step| i64::try_from(step).ok()))
    }
}
