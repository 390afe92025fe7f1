//! `ResealSecrets`: `twofa secrets rotate`. Every stored secret sealed under a key other than
//! the current one is opened (by the key it names, kept in `secrets.previous_keys`) and sealed
//! again under the current key, bound to the same row; a secret that changed meanwhile is left
//! for the next run. Once it reports none left, the previous keys can be dropped.

use std::sync::Arc;

use twofa_domain::{CipherError, FactorId, FactorRepository, SecretCipher};

use super::totp_check::secret_binding;
use crate::auth::Fault;

/// Factors read per page.
const PAGE: u32 = 100;

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets now sealed under the current key.
    pub resealed: u64,
    /// Secrets that changed while being resealed (left as they are).
    pub changed: u64,
    /// Secrets no key of the ring opens (sealed under a key no longer configured, or corrupt).
    pub unreadable: u64,
}

/// Reseals stored secrets under the current key.
pub struct ResealSecrets {
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) cipher: Arc<dyn SecretCipher>,
}

impl ResealSecrets {
    /// Reseals over `factors` with `cipher`.
    pub fn new(factors: Arc<dyn FactorRepository>, cipher: Arc<dyn SecretCipher>) -> Self {
        Self { factors, cipher }
    }

    /// Reseals every secret not sealed under the current key.
    ///
    /// # Errors
    /// `Fault` from the store; what was resealed before it stays resealed.
    #[tracing::instrument(name = "reseal_secrets", skip_all)]
    pub async fn execute(&self) -> Result<Resealed, Fault> {
        let current = self.cipher.current_key_id().to_owned();
        let mut done = Resealed::default();
        let mut after: Option<FactorId> = None;
        loop {
            let page = self
                .factors
                .sealed_by_other_keys(&current, after, PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(done);
            };
            after = Some(last.id);
            for factor in &page {
                let Some(sealed) = &factor.secret else {
                    continue;
                };
                let binding = secret_binding(factor.id);
                let plaintext = match self.cipher.open(sealed, &binding) {
                    Ok(plaintext) => plaintext,
                    Err(error @ (CipherError::UnknownKey(_) | CipherError::Corrupt)) => {
                        tracing::warn!(factor = %factor.id, error = %error, "a stored secret cannot be opened; it is left as it is");
                        done.unreadable += 1;
                        continue;
                    }
                };
                let resealed = self.cipher.seal(&plaintext, &binding);
                if self.factors.reseal(factor.id, sealed, resealed).await? {
                    done.resealed += 1;
                } else {
                    done.changed += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use futures::executor::block_on;
    use twofa_crypto::{AesGcmSecretCipher, CipherKey};
    use twofa_domain::{FactorKind, NewFactor, UserId};
    use twofa_memory::{ManualClock, MemoryFactorRepository, SeededSecretGenerator};

    use super::*;

    fn cipher(current: u8, previous: &[u8]) -> Arc<AesGcmSecretCipher> {
        Arc::new(AesGcmSecretCipher::new(
            CipherKey::from_bytes([current; 32]),
            previous
                .iter()
                .map(|byte| CipherKey::from_bytes([*byte; 32])),
            Arc::new(SeededSecretGenerator::new(u64::from(current))),
        ))
    }

    #[test]
    fn secrets_sealed_under_an_older_key_are_resealed_under_the_current_one() {
        let clock = Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let factors = Arc::new(MemoryFactorRepository::new(clock));
        let old = cipher(1, &[]);
        let id = FactorId::from_uuid(uuid::Uuid::from_u128(7));
        block_on(factors.add_pending(NewFactor {
            id,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: FactorKind::Totp,
            secret: Some(old.seal(b"twenty bytes secret!", &secret_binding(id))),
            destination: None,
        }))
        .unwrap();

        let rotating = cipher(2, &[1]);
        let rotate = ResealSecrets::new(factors.clone(), rotating.clone());
        let first = block_on(rotate.execute()).unwrap();
        assert_eq!(first.resealed, 1);
        assert_eq!(block_on(rotate.execute()).unwrap(), Resealed::default());

        // The old key can go: the new key alone opens the secret.
        let factor = block_on(factors.find(UserId::from_uuid(uuid::Uuid::from_u128(1)), id))
            .unwrap()
            .unwrap();
        let sealed = factor.secret.unwrap();
        assert_eq!(sealed.key_id, rotating.current_key_id());
        let opened = cipher(2, &[]).open(&sealed, &secret_binding(id)).unwrap();
        assert_eq!(opened.as_slice(), b"twenty bytes secret!");
    }

    #[test]
    fn a_secret_no_key_opens_is_counted_and_left() {
        let clock = Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let factors = Arc::new(MemoryFactorRepository::new(clock));
        let id = FactorId::from_uuid(uuid::Uuid::from_u128(7));
        block_on(factors.add_pending(NewFactor {
            id,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: FactorKind::Totp,
            secret: Some(cipher(1, &[]).seal(b"secret", &secret_binding(id))),
            destination: None,
        }))
        .unwrap();
        let done = block_on(ResealSecrets::new(factors, cipher(3, &[])).execute()).unwrap();
        assert_eq!(done.unreadable, 1);
        assert_eq!(done.resealed, 0);
    }
}
