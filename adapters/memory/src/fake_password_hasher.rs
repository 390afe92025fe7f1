//! `FakePasswordHasher`: a fast, deterministic `PasswordHasher` for tests. NOT SECURE: the
//! "hash" is the password reversed and hex-encoded, so anyone holding it can read the
//! password back. Never wire it into a running service.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use twofa_domain::{HashError, Password, PasswordHash, PasswordHasher, Verification};

/// The scheme name that starts every fake hash.
const SCHEME: &str = "fake";

/// The parameters tag a `FakePasswordHasher::new` writes.
pub const DEFAULT_TAG: &str = "v1";

/// The `Retry-After` hint given with the `Overloaded` answers [`FakePasswordHasher::overload_next`]
/// asks for.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Hashes to `fake$<tag>$<hex of the reversed password>`, instantly. The tag stands for the
/// real hasher's parameters: a stored hash with another tag verifies as
/// `Match { needs_rehash: true }`. Tests only: it is trivially reversible.
#[derive(Debug)]
pub struct FakePasswordHasher {
    tag: String,
    overloads: AtomicUsize,
    dummy_verifications: AtomicUsize,
}

impl FakePasswordHasher {
    /// A fake whose current parameters are [`DEFAULT_TAG`].
    pub fn new() -> Self {
        Self::with_tag(DEFAULT_TAG)
    }

    /// A fake whose current parameters are `tag` (no `$` in it); hashes made under another
    /// tag need a rehash.
    pub fn with_tag(tag: &str) -> Self {
        Self {
            tag: tag.replace('$', ""),
            overloads: AtomicUsize::new(0),
            dummy_verifications: AtomicUsize::new(0),
        }
    }

    /// The next request (`hash`, `verify` or `verify_dummy`) answers
    /// `HashError::Overloaded`, as the real pool does when its queue is full. Calls add up:
    /// two calls refuse the next two requests.
    pub fn overload_next(&self) {
        self.overloads.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times `verify_dummy` ran (refused calls excluded): lets a test check that an
    /// unknown user paid for a verification.
    pub fn dummy_verifications(&self) -> usize {
        self.dummy_verifications.load(Ordering::SeqCst)
    }

    /// Takes one pending overload, if any.
    fn refuse_if_overloaded(&self) -> Result<(), HashError> {
        let taken = self
            .overloads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match taken {
            Ok(_) => Err(HashError::Overloaded {
                retry_after: RETRY_AFTER,
            }),
            Err(_) => Ok(()),
        }
    }
}

impl Default for FakePasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The hex of `password`'s characters in reverse order.
fn encode(password: &str) -> String {
    let reversed: String = password.chars().rev().collect();
    reversed
        .bytes()
        .fold(String::with_capacity(reversed.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[async_trait]
impl PasswordHasher for FakePasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        self.refuse_if_overloaded()?;
        Ok(PasswordHash::from_phc(format!(
            "{SCHEME}${}${}",
            self.tag,
            encode(password.expose())
        )))
    }

    async fn verify(
        &self,
        candidate: &str,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError> {
        self.refuse_if_overloaded()?;
        let mut parts = hash.as_phc().split('$');
        let (Some(SCHEME), Some(tag), Some(encoded), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(anyhow::anyhow!("the stored password hash is not a fake hash").into());
        };
        Ok(if encoded == encode(candidate) {
            Verification::Match {
                needs_rehash: tag != self.tag,
            }
        } else {
            Verification::Mismatch
        })
    }

    async fn verify_dummy(&self, _candidate: &str) -> Result<(), HashError> {
        self.refuse_if_overloaded()?;
        self.dummy_verifications.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn password(text: &str) -> Password {
        Password::new(text.to_owned()).unwrap()
    }

    #[test]
    fn a_hash_verifies_against_its_password() {
        let hasher = FakePasswordHasher::new();
        let hash = block_on(hasher.hash(&password("xk4!pz9q-secret"))).unwrap();
        assert_eq!(
            block_on(hasher.verify("xk4!pz9q-secret", &hash)).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn a_wrong_candidate_mismatches() {
        let hasher = FakePasswordHasher::new();
        let hash = block_on(hasher.hash(&password("xk4!pz9q-secret"))).unwrap();
        assert_eq!(
            block_on(hasher.verify("xk4!pz9q-secreT", &hash)).unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            block_on(hasher.verify("", &hash)).unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn the_hash_is_deterministic_and_tagged() {
        let hasher = FakePasswordHasher::new();
        let first = block_on(hasher.hash(&password("qmzx7ktw"))).unwrap();
        let second = block_on(hasher.hash(&password("qmzx7ktw"))).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.as_phc(), "fake$v1$77746b37787a6d71");
    }

    #[test]
    fn handles_multibyte_passwords() {
        let hasher = FakePasswordHasher::new();
        let hash = block_on(hasher.hash(&password("🔑é🔑é🔑é🔑é"))).unwrap();
        assert_eq!(
            block_on(hasher.verify("🔑é🔑é🔑é🔑é", &hash)).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn a_hash_under_another_tag_needs_a_rehash() {
        let old = FakePasswordHasher::with_tag("old");
        let new = FakePasswordHasher::with_tag("new");
        let hash = block_on(old.hash(&password("xk4!pz9q-secret"))).unwrap();
        assert_eq!(
            block_on(new.verify("xk4!pz9q-secret", &hash)).unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            block_on(new.verify("wrong-password", &hash)).unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn a_malformed_hash_is_unexpected() {
        let hasher = FakePasswordHasher::new();
        for stored in [
            "",
            "fake$v1",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            "fake$v1$00$",
        ] {
            let result =
                block_on(hasher.verify("whatever", &PasswordHash::from_phc(stored.into())));
            assert!(
                matches!(result, Err(HashError::Unexpected(_))),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn overload_next_refuses_exactly_the_next_requests() {
        let hasher = FakePasswordHasher::new();
        let secret = password("xk4!pz9q-secret");
        hasher.overload_next();
        assert!(matches!(
            block_on(hasher.hash(&secret)),
            Err(HashError::Overloaded { retry_after }) if retry_after == RETRY_AFTER
        ));
        let hash = block_on(hasher.hash(&secret)).unwrap();

        hasher.overload_next();
        hasher.overload_next();
        assert!(matches!(
            block_on(hasher.verify("xk4!pz9q-secret", &hash)),
            Err(HashError::Overloaded { .. })
        ));
        assert!(matches!(
            block_on(hasher.verify_dummy("xk4!pz9q-secret")),
            Err(HashError::Overloaded { .. })
        ));
        assert!(block_on(hasher.verify("xk4!pz9q-secret", &hash)).is_ok());
    }

    #[test]
    fn verify_dummy_succeeds_and_is_counted() {
        let hasher = FakePasswordHasher::new();
        assert_eq!(hasher.dummy_verifications(), 0);
        block_on(hasher.verify_dummy("anything")).unwrap();
        block_on(hasher.verify_dummy("")).unwrap();
        assert_eq!(hasher.dummy_verifications(), 2);
    }
}
