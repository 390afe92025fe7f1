//! `Argon2PasswordHasher` against the `PasswordHasher` contract, with small parameters
//! (m=1024 KiB, t=1) to stay fast, except where the defaults are the point.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on a broken setup"
)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use twofa_crypto::OsSecretGenerator;
use twofa_crypto::argon2_password_hasher::{
    Argon2PasswordHasher, Argon2Settings, Argon2SettingsError, RETRY_AFTER,
};
use twofa_domain::{
    HashError, Password, PasswordHash, PasswordHasher, SecretGenerator, Verification,
};

const SECRET: &str = "xk4!pz9q-correct-horse";

fn small() -> Argon2Settings {
    Argon2Settings {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        workers: 2,
        queue: 8,
    }
}

fn hasher(settings: Argon2Settings) -> Argon2PasswordHasher {
    Argon2PasswordHasher::new(settings, Arc::new(OsSecretGenerator)).unwrap()
}

fn password(text: &str) -> Password {
    Password::new(text.to_owned()).unwrap()
}

#[tokio::test]
async fn a_hash_verifies_against_its_password() {
    let hasher = hasher(small());
    let hash = hasher.hash(&password(SECRET)).await.unwrap();
    assert_eq!(
        hasher.verify(SECRET, &hash).await.unwrap(),
        Verification::Match {
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn a_wrong_candidate_mismatches() {
    let hasher = hasher(small());
    let hash = hasher.hash(&password(SECRET)).await.unwrap();
    for candidate in ["xk4!pz9q-correct-horsE", "", "xk4!pz9q-correct-horse "] {
        assert_eq!(
            hasher.verify(candidate, &hash).await.unwrap(),
            Verification::Mismatch,
            "{candidate:?}"
        );
    }
}

#[tokio::test]
async fn the_hash_is_an_argon2id_phc_string_with_the_configured_parameters() {
    let hasher = hasher(small());
    let hash = hasher.hash(&password(SECRET)).await.unwrap();
    assert!(
        hash.as_phc().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{}",
        hash.as_phc()
    );
    assert!(!hash.as_phc().contains(SECRET));
}

#[tokio::test]
async fn the_defaults_are_owasps_and_work() {
    let settings = Argon2Settings::default();
    assert_eq!(
        (
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            settings.queue
        ),
        (19456, 2, 1, 64)
    );
    assert!(settings.workers >= 1);
    let hasher = hasher(settings);
    let hash = hasher.hash(&password(SECRET)).await.unwrap();
    assert!(
        hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hash.as_phc()
    );
    assert_eq!(
        hasher.verify(SECRET, &hash).await.unwrap(),
        Verification::Match {
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn two_hashes_of_one_password_differ_by_their_salt() {
    let hasher = hasher(small());
    let first = hasher.hash(&password(SECRET)).await.unwrap();
    let second = hasher.hash(&password(SECRET)).await.unwrap();
    assert_ne!(first, second);
    for hash in [&first, &second] {
        assert!(matches!(
            hasher.verify(SECRET, hash).await.unwrap(),
            Verification::Match { .. }
        ));
    }
}

#[tokio::test]
async fn a_hash_under_other_parameters_matches_but_needs_a_rehash() {
    let old = hasher(Argon2Settings {
        memory_kib: 512,
        iterations: 2,
        ..small()
    });
    let current = hasher(small());
    let hash = old.hash(&password(SECRET)).await.unwrap();
    assert_eq!(
        current.verify(SECRET, &hash).await.unwrap(),
        Verification::Match { needs_rehash: true }
    );
    assert_eq!(
        current.verify("not-the-password", &hash).await.unwrap(),
        Verification::Mismatch
    );
    for setting in [
        Argon2Settings {
            parallelism: 2,
            ..small()
        },
        Argon2Settings {
            iterations: 2,
            ..small()
        },
    ] {
        let hash = hasher(setting).hash(&password(SECRET)).await.unwrap();
        assert_eq!(
            current.verify(SECRET, &hash).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }
}

#[tokio::test]
async fn an_older_algorithm_or_version_matches_but_needs_a_rehash() {
    let current = hasher(small());
    let params = Params::new(1024, 1, 1, None).unwrap();
    for (algorithm, version) in [
        (Algorithm::Argon2i, Version::V0x13),
        (Algorithm::Argon2d, Version::V0x13),
        (Algorithm::Argon2id, Version::V0x10),
    ] {
        let stored = Argon2::new(algorithm, version, params.clone())
            .hash_password_with_salt(SECRET.as_bytes(), b"sixteen-byte-salt")
            .unwrap()
            .to_string();
        let stored = PasswordHash::from_phc(stored);
        assert_eq!(
            current.verify(SECRET, &stored).await.unwrap(),
            Verification::Match { needs_rehash: true },
            "{algorithm:?} {version:?}"
        );
        assert_eq!(
            current.verify("not-the-password", &stored).await.unwrap(),
            Verification::Mismatch
        );
    }
}

#[tokio::test]
async fn a_malformed_stored_hash_is_unexpected_not_a_panic() {
    let hasher = hasher(small());
    for stored in [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1",
        "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ",
        "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE",
        "$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHQ$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE",
        "$argon2id$v=19$m=1024,t=1,p=1,x=3$c29tZXNhbHQ$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE",
        "$argon2id$v=7$m=1024,t=1,p=1$c29tZXNhbHQ$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE",
        "fake$v1$00",
    ] {
        let result = hasher
            .verify(SECRET, &PasswordHash::from_phc(stored.to_owned()))
            .await;
        assert!(
            matches!(result, Err(HashError::Unexpected(_))),
            "{stored:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn verify_dummy_completes() {
    let hasher = hasher(small());
    hasher.verify_dummy(SECRET).await.unwrap();
    hasher.verify_dummy("").await.unwrap();
}

#[test]
fn bad_parameters_are_refused_with_the_setting_named() {
    for (settings, key) in [
        (
            Argon2Settings {
                memory_kib: 4,
                ..small()
            },
            "hashing.memory_kib",
        ),
        (
            Argon2Settings {
                memory_kib: 16,
                parallelism: 4,
                ..small()
            },
            "hashing.memory_kib",
        ),
        (
            Argon2Settings {
                iterations: 0,
                ..small()
            },
            "hashing.iterations",
        ),
        (
            Argon2Settings {
                parallelism: 0,
                ..small()
            },
            "hashing.parallelism",
        ),
        (
            Argon2Settings {
                workers: 0,
                ..small()
            },
            "hashing.workers",
        ),
    ] {
        let error = Argon2PasswordHasher::new(settings, Arc::new(OsSecretGenerator)).unwrap_err();
        assert!(
            matches!(&error, Argon2SettingsError::Invalid { key: named, .. } if *named == key),
            "{settings:?}: {error}"
        );
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[tokio::test]
async fn a_dropped_hasher_stops_its_threads() {
    let hasher = hasher(small());
    hasher.hash(&password(SECRET)).await.unwrap();
    // Drop joins the workers: it returning at all is the assertion.
    drop(hasher);
}

/// Polls `future` once: `Some(output)` if it finished, `None` if it is waiting.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// OS randomness, except that once armed, each call first reports on `entered` and then waits
/// for one `release`: it holds a worker inside a hash (salts are drawn on the worker) for
/// exactly as long as the test wants, with no sleeping and no timing.
struct GatedSecretGenerator {
    is_armed: AtomicBool,
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl SecretGenerator for GatedSecretGenerator {
    fn fill_bytes(&self, buf: &mut [u8]) {
        if self.is_armed.load(Ordering::SeqCst) {
            self.entered.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        OsSecretGenerator.fill_bytes(buf);
    }
}

#[tokio::test]
async fn a_full_queue_answers_overloaded_at_once() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let secrets = Arc::new(GatedSecretGenerator {
        is_armed: AtomicBool::new(false),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let hasher = Argon2PasswordHasher::new(
        Argon2Settings {
            workers: 1,
            queue: 1,
            ..small()
        },
        Arc::clone(&secrets) as Arc<dyn SecretGenerator>,
    )
    .unwrap();
    secrets.is_armed.store(true, Ordering::SeqCst);
    let secret = password(SECRET);

    // The one worker takes the first request and is held inside it.
    let mut first = hasher.hash(&secret);
    assert!(poll_once(&mut first).await.is_none());
    entered.recv_timeout(Duration::from_secs(30)).unwrap();

    // The second waits in the queue, which is now full.
    let mut second = hasher.hash(&secret);
    assert!(poll_once(&mut second).await.is_none());

    // Anything more is refused at once, without waiting: hash, verify and verify_dummy alike
    // (verify_dummy runs a real verification on the pool).
    let stored = PasswordHash::from_phc(
        "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$a3pbhnzY3fUOeXk6tQMvk7n6ggSuqRRFAZbKGhEbEdE"
            .to_owned(),
    );
    let mut third = hasher.hash(&secret);
    let mut fourth = hasher.verify(SECRET, &stored);
    let mut fifth = hasher.verify_dummy(SECRET);
    for refused in [
        poll_once(&mut third).await.map(|result| result.map(drop)),
        poll_once(&mut fourth).await.map(|result| result.map(drop)),
        poll_once(&mut fifth).await,
    ] {
        assert!(
            matches!(
                refused,
                Some(Err(HashError::Overloaded { retry_after })) if retry_after == RETRY_AFTER
            ),
            "{refused:?}"
        );
    }

    // Released, the held and the queued requests both complete.
    release.send(()).unwrap();
    release.send(()).unwrap();
    let first = first.await.unwrap();
    let second = second.await.unwrap();
    assert_ne!(first, second);

    // And the pool takes work again.
    secrets.is_armed.store(false, Ordering::SeqCst);
    assert!(matches!(
        hasher.verify(SECRET, &first).await.unwrap(),
        Verification::Match { .. }
    ));
    hasher.verify_dummy(SECRET).await.unwrap();
}

#[tokio::test]
async fn with_no_queue_a_busy_worker_refuses_verify_dummy() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let secrets = Arc::new(GatedSecretGenerator {
        is_armed: AtomicBool::new(false),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let hasher = Argon2PasswordHasher::new(
        Argon2Settings {
            workers: 1,
            queue: 0,
            ..small()
        },
        Arc::clone(&secrets) as Arc<dyn SecretGenerator>,
    )
    .unwrap();
    secrets.is_armed.store(true, Ordering::SeqCst);
    let secret = password(SECRET);

    // With no queue, a request is only taken by an idle worker; the worker may not be back
    // in `recv` yet, so retry until it takes one (a refusal here is the contract, too).
    let held = loop {
        let mut attempt = hasher.hash(&secret);
        match poll_once(&mut attempt).await {
            None => break attempt,
            Some(Err(HashError::Overloaded { .. })) => tokio::task::yield_now().await,
            Some(other) => panic!("unexpected {other:?}"),
        }
    };
    entered.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(matches!(
        hasher.verify_dummy(SECRET).await,
        Err(HashError::Overloaded { .. })
    ));
    release.send(()).unwrap();
    held.await.unwrap();
}
