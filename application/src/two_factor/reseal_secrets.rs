//! `ResealSecrets`: `twofa secrets rotate`. Every stored secret sealed under a key other than
//! the current one is opened (by the key it names, kept in `secrets.previous_keys`) and sealed
//! again under the current key, bound to the same row: second factors' secrets, and webhook
//! endpoints' signing secrets, the current one and the previous one while it still signs (an
//! expired previous secret never signs again and is left as it is). A secret that changed
//! meanwhile (rotated, or resealed by another run) is left for the next run. Once it reports
//! none left, the previous keys can be dropped.

use std::sync::Arc;

use twofa_domain::{
    CipherError, Clock, FactorId, FactorRepository, SealedSecret, SecretCipher, WebhookEndpoint,
    WebhookEndpointId, WebhookRepository,
};

use super::totp_check::secret_binding;
use crate::{auth::Fault, webhooks::secret_binding as webhook_secret_binding};

/// Factors, or webhook endpoints, read per page.
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
    pub(crate) webhooks: Arc<dyn WebhookRepository>,
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl ResealSecrets {
    /// Reseals the secrets of `factors` and `webhooks` with `cipher`; `clock` tells which
    /// previous webhook secrets still sign.
    pub fn new(
        factors: Arc<dyn FactorRepository>,
        webhooks: Arc<dyn WebhookRepository>,
        cipher: Arc<dyn SecretCipher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            factors,
            webhooks,
            cipher,
            clock,
        }
    }

    /// Reseals every secret not sealed under the current key: the factors', then the webhook
    /// endpoints', counted together.
    ///
    /// # Errors
    /// `Fault` from the store; what was resealed before it stays resealed.
    #[tracing::instrument(name = "reseal_secrets", skip_all)]
    pub async fn execute(&self) -> Result<Resealed, Fault> {
        let current = self.cipher.current_key_id().to_owned();
        let mut done = Resealed::default();
        self.reseal_factors(&current, &mut done).await?;
        self.reseal_webhooks(&current, &mut done).await?;
        Ok(done)
    }

    /// Reseals the factors' secrets, counting into `done`.
    async fn reseal_factors(&self, current: &str, done: &mut Resealed) -> Result<(), Fault> {
        let mut after: Option<FactorId> = None;
        loop {
            let page = self
                .factors
                .sealed_by_other_keys(current, after, PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id);
            for factor in &page {
                let Some(sealed) = &factor.secret else {
                    continue;
                };
                let resealed = match self.resealed(sealed, &secret_binding(factor.id)) {
                    Ok(resealed) => resealed,
                    Err(error @ (CipherError::UnknownKey(_) | CipherError::Corrupt)) => {
                        tracing::warn!(factor = %factor.id, error = %error, "a stored secret cannot be opened; it is left as it is");
                        done.unreadable += 1;
                        continue;
                    }
                };
                if self.factors.reseal(factor.id, sealed, resealed).await? {
                    done.resealed += 1;
                } else {
                    done.changed += 1;
                }
            }
        }
    }

    /// Reseals the webhook endpoints' signing secrets, counting into `done`.
    async fn reseal_webhooks(&self, current: &str, done: &mut Resealed) -> Result<(), Fault> {
        let mut after: Option<WebhookEndpointId> = None;
        loop {
            let page = self
                .webhooks
                .endpoints_sealed_by_other_keys(current, after, PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id);
            for endpoint in &page {
                self.reseal_endpoint(endpoint, current, done).await?;
            }
        }
    }

    /// Reseals `endpoint`'s secret and live previous secret where another key sealed them, in
    /// one compare-and-swap of both, counting into `done`.
    async fn reseal_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        current: &str,
        done: &mut Resealed,
    ) -> Result<(), Fault> {
        let binding = webhook_secret_binding(endpoint.id);
        let mut reseal = |sealed: &SealedSecret, which: &'static str| {
            if sealed.key_id == current {
                return None;
            }
            match self.resealed(sealed, &binding) {
                Ok(resealed) => Some(resealed),
                Err(error @ (CipherError::UnknownKey(_) | CipherError::Corrupt)) => {
                    tracing::warn!(endpoint = %endpoint.id, secret = which, error = %error, "a stored webhook secret cannot be opened; it is left as it is");
                    done.unreadable += 1;
                    None
                }
            }
        };
        let secret = reseal(&endpoint.secret, "current");
        let previous = endpoint
            .live_previous_secret(self.clock.now())
            .and_then(|previous| reseal(previous, "previous"));
        let count = u64::from(secret.is_some()) + u64::from(previous.is_some());
        if count == 0 {
            return Ok(());
        }
        let expected = (&endpoint.secret, endpoint.previous_secret.as_ref());
        let resealed = (
            secret.unwrap_or_else(|| endpoint.secret.clone()),
            previous.or_else(|| endpoint.previous_secret.clone()),
        );
        if self
            .webhooks
            .reseal_endpoint_secrets(endpoint.id, expected, resealed)
            .await?
        {
            done.resealed += count;
        } else {
            done.changed += count;
        }
        Ok(())
    }

    /// `sealed` opened and sealed again under the current key, bound to `binding`.
    fn resealed(&self, sealed: &SealedSecret, binding: &[u8]) -> Result<SealedSecret, CipherError> {
        let plaintext = self.cipher.open(sealed, binding)?;
        Ok(self.cipher.seal(&plaintext, binding))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta};
    use futures::executor::block_on;
    use twofa_crypto::{AesGcmSecretCipher, CipherKey};
    use twofa_domain::{FactorKind, NewFactor, NewWebhookEndpoint, UserId};
    use twofa_memory::{
        ManualClock, MemoryFactorRepository, MemoryWebhookRepository, SeededSecretGenerator,
    };

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

    /// Empty factor and webhook stores on one clock.
    struct Stores {
        clock: Arc<ManualClock>,
        factors: Arc<MemoryFactorRepository>,
        webhooks: Arc<MemoryWebhookRepository>,
    }

    impl Stores {
        fn new() -> Self {
            let clock = Arc::new(ManualClock::new(
                DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
                    .unwrap()
                    .to_utc(),
            ));
            Self {
                factors: Arc::new(MemoryFactorRepository::new(clock.clone())),
                webhooks: Arc::new(MemoryWebhookRepository::new(clock.clone())),
                clock,
            }
        }

        fn rotation(&self, cipher: Arc<AesGcmSecretCipher>) -> ResealSecrets {
            ResealSecrets::new(
                self.factors.clone(),
                self.webhooks.clone(),
                cipher,
                self.clock.clone(),
            )
        }

        /// Adds endpoint `id` with `secret`, sealed by `cipher` and bound to it.
        fn add_endpoint(&self, id: WebhookEndpointId, cipher: &AesGcmSecretCipher, secret: &[u8]) {
            block_on(self.webhooks.add_endpoint(NewWebhookEndpoint {
                id,
                owner: None,
                url: "https://hooks.example.com/twofa".to_owned(),
                events: vec!["*".to_owned()],
                description: None,
                secret: cipher.seal(secret, &webhook_secret_binding(id)),
            }))
            .unwrap();
        }

        /// Rotates endpoint `id` to `secret`, sealed by `cipher`, the one before it signing for
        /// `lasting`.
        fn rotate_endpoint(
            &self,
            id: WebhookEndpointId,
            cipher: &AesGcmSecretCipher,
            secret: &[u8],
            lasting: TimeDelta,
        ) {
            block_on(self.webhooks.rotate_secret(
                None,
                id,
                cipher.seal(secret, &webhook_secret_binding(id)),
                self.clock.now() + lasting,
            ))
            .unwrap()
            .unwrap();
        }

        fn endpoint(&self, id: WebhookEndpointId) -> WebhookEndpoint {
            block_on(self.webhooks.find_endpoint(id)).unwrap().unwrap()
        }
    }

    fn endpoint_id(n: u128) -> WebhookEndpointId {
        WebhookEndpointId::from_uuid(uuid::Uuid::from_u128(0xe000 + n))
    }

    fn opened(
        cipher: &AesGcmSecretCipher,
        sealed: &SealedSecret,
        id: WebhookEndpointId,
    ) -> Vec<u8> {
        cipher
            .open(sealed, &webhook_secret_binding(id))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn secrets_sealed_under_an_older_key_are_resealed_under_the_current_one() {
        let stores = Stores::new();
        let old = cipher(1, &[]);
        let id = FactorId::from_uuid(uuid::Uuid::from_u128(7));
        block_on(stores.factors.add_pending(NewFactor {
            id,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: FactorKind::Totp,
            secret: Some(old.seal(b"twenty bytes secret!", &secret_binding(id))),
            destination: None,
        }))
        .unwrap();

        let rotating = cipher(2, &[1]);
        let rotate = stores.rotation(rotating.clone());
        let first = block_on(rotate.execute()).unwrap();
        assert_eq!(first.resealed, 1);
        assert_eq!(block_on(rotate.execute()).unwrap(), Resealed::default());

        // The old key can go: the new key alone opens the secret.
        let factor = block_on(
            stores
                .factors
                .find(UserId::from_uuid(uuid::Uuid::from_u128(1)), id),
        )
        .unwrap()
        .unwrap();
        let sealed = factor.secret.unwrap();
        assert_eq!(sealed.key_id, rotating.current_key_id());
        let opened = cipher(2, &[]).open(&sealed, &secret_binding(id)).unwrap();
        assert_eq!(opened.as_slice(), b"twenty bytes secret!");
    }

    #[test]
    fn a_secret_no_key_opens_is_counted_and_left() {
        let stores = Stores::new();
        let id = FactorId::from_uuid(uuid::Uuid::from_u128(7));
        block_on(stores.factors.add_pending(NewFactor {
            id,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: FactorKind::Totp,
            secret: Some(cipher(1, &[]).seal(b"secret", &secret_binding(id))),
            destination: None,
        }))
        .unwrap();
        let done = block_on(stores.rotation(cipher(3, &[])).execute()).unwrap();
        assert_eq!(done.unreadable, 1);
        assert_eq!(done.resealed, 0);
    }

    #[test]
    fn a_webhook_endpoints_current_and_previous_secrets_are_resealed_with_its_binding() {
        let stores = Stores::new();
        let old = cipher(1, &[]);
        let id = endpoint_id(1);
        stores.add_endpoint(id, &old, b"first signing secret");
        stores.rotate_endpoint(id, &old, b"second signing secret", TimeDelta::hours(24));
        let factor_id = FactorId::from_uuid(uuid::Uuid::from_u128(7));
        block_on(stores.factors.add_pending(NewFactor {
            id: factor_id,
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: FactorKind::Totp,
            secret: Some(old.seal(b"twenty bytes secret!", &secret_binding(factor_id))),
            destination: None,
        }))
        .unwrap();
        let before = stores.endpoint(id);

        let rotating = cipher(2, &[1]);
        let rotate = stores.rotation(rotating.clone());
        let done = block_on(rotate.execute()).unwrap();
        assert_eq!(
            done,
            Resealed {
                resealed: 3,
                ..Resealed::default()
            },
            "the factor's secret and both of the endpoint's, counted together"
        );
        assert_eq!(block_on(rotate.execute()).unwrap(), Resealed::default());

        // The old key can go: the new key alone opens both, bound to the endpoint.
        let after = stores.endpoint(id);
        let new_only = cipher(2, &[]);
        let previous = after.previous_secret.clone().unwrap();
        assert_eq!(after.secret.key_id, rotating.current_key_id());
        assert_eq!(previous.key_id, rotating.current_key_id());
        assert_eq!(
            opened(&new_only, &after.secret, id),
            b"second signing secret"
        );
        assert_eq!(opened(&new_only, &previous, id), b"first signing secret");
        assert_eq!(
            WebhookEndpoint {
                secret: before.secret.clone(),
                previous_secret: before.previous_secret.clone(),
                ..after
            },
            before,
            "only the secrets change; the previous one still expires when it did"
        );
    }

    #[test]
    fn an_expired_previous_webhook_secret_is_left_as_it_is() {
        let stores = Stores::new();
        let id = endpoint_id(2);
        // Sealed under a key since dropped: it no longer signs, so it does not matter.
        stores.add_endpoint(id, &cipher(9, &[]), b"long gone secret");
        stores.rotate_endpoint(id, &cipher(1, &[]), b"signing secret", TimeDelta::hours(1));
        stores.clock.advance(TimeDelta::hours(2));
        let before = stores.endpoint(id);

        let done = block_on(stores.rotation(cipher(2, &[1])).execute()).unwrap();
        assert_eq!(
            done,
            Resealed {
                resealed: 1,
                ..Resealed::default()
            }
        );
        let after = stores.endpoint(id);
        assert_eq!(after.previous_secret, before.previous_secret);
        assert_eq!(
            opened(&cipher(2, &[]), &after.secret, id),
            b"signing secret"
        );
    }

    #[test]
    fn an_unreadable_webhook_secret_is_counted_and_the_other_still_resealed() {
        let stores = Stores::new();
        let id = endpoint_id(3);
        stores.add_endpoint(id, &cipher(9, &[]), b"first signing secret");
        stores.rotate_endpoint(
            id,
            &cipher(1, &[]),
            b"second signing secret",
            TimeDelta::hours(24),
        );
        let before = stores.endpoint(id);

        let rotating = cipher(2, &[1]);
        let done = block_on(stores.rotation(rotating.clone()).execute()).unwrap();
        assert_eq!(
            done,
            Resealed {
                resealed: 1,
                changed: 0,
                unreadable: 1,
            }
        );
        let after = stores.endpoint(id);
        assert_eq!(after.secret.key_id, rotating.current_key_id());
        assert_eq!(
            after.previous_secret, before.previous_secret,
            "left as it is"
        );
    }
}
