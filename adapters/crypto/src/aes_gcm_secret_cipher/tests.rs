use std::collections::HashSet;

use super::*;
use crate::OsSecretGenerator;

/// A generator that answers the same byte over and over (for fixed vectors).
struct Repeating(u8);

impl SecretGenerator for Repeating {
    fn fill_bytes(&self, buf: &mut [u8]) {
        buf.fill(self.0);
    }
}

fn key(byte: u8) -> CipherKey {
    CipherKey::from_bytes([byte; 32])
}

/// The key `00 01 02 … 1f`.
fn counting_key() -> CipherKey {
    let mut bytes = [0_u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::try_from(index).unwrap();
    }
    CipherKey::from_bytes(bytes)
}

fn cipher(current: CipherKey, previous: Vec<CipherKey>) -> AesGcmSecretCipher {
    AesGcmSecretCipher::new(current, previous, Arc::new(OsSecretGenerator))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

#[test]
fn a_sealed_secret_opens_with_the_same_associated_data() {
    let cipher = cipher(key(1), vec![]);
    let sealed = cipher.seal(b"JBSWY3DPEHPK3PXP", b"factor-1");
    assert_eq!(sealed.key_id, cipher.current_key_id());
    assert_eq!(sealed.ciphertext.len(), 12 + 16 + 16);
    assert!(
        !sealed
            .ciphertext
            .windows(16)
            .any(|window| window == b"JBSWY3DPEHPK3PXP"),
        "the plaintext is not in the sealed bytes"
    );
    let opened = cipher.open(&sealed, b"factor-1").unwrap();
    assert_eq!(opened.as_slice(), b"JBSWY3DPEHPK3PXP");
    let empty = cipher.seal(b"", b"");
    assert_eq!(cipher.open(&empty, b"").unwrap().as_slice(), b"");
}

#[test]
fn a_secret_sealed_for_one_row_does_not_open_for_another() {
    let cipher = cipher(key(1), vec![]);
    let sealed = cipher.seal(b"secret", b"factor-1");
    assert!(matches!(
        cipher.open(&sealed, b"factor-2"),
        Err(CipherError::Corrupt)
    ));
    assert!(matches!(
        cipher.open(&sealed, b""),
        Err(CipherError::Corrupt)
    ));
}

#[test]
fn a_changed_byte_anywhere_fails_to_open() {
    let cipher = cipher(key(1), vec![]);
    let sealed = cipher.seal(b"secret", b"factor-1");
    for index in 0..sealed.ciphertext.len() {
        let mut tampered = sealed.clone();
        tampered.ciphertext[index] ^= 0x01;
        assert!(
            matches!(
                cipher.open(&tampered, b"factor-1"),
                Err(CipherError::Corrupt)
            ),
            "byte {index}"
        );
    }
    for length in [0, 11, 12, 27, sealed.ciphertext.len() - 1] {
        let mut short = sealed.clone();
        short.ciphertext.truncate(length);
        assert!(
            matches!(cipher.open(&short, b"factor-1"), Err(CipherError::Corrupt)),
            "{length} bytes"
        );
    }
}

#[test]
fn a_previous_key_opens_what_it_sealed_and_new_seals_use_the_current_key() {
    let old = cipher(key(1), vec![]);
    let sealed_before = old.seal(b"secret", b"factor-1");
    let rotated = cipher(key(2), vec![key(1)]);
    assert_eq!(
        rotated
            .open(&sealed_before, b"factor-1")
            .unwrap()
            .as_slice(),
        b"secret"
    );
    let sealed_after = rotated.seal(b"secret", b"factor-1");
    assert_eq!(sealed_after.key_id, key(2).id());
    assert_eq!(rotated.current_key_id(), key(2).id());
    assert_ne!(sealed_after.key_id, sealed_before.key_id);
    assert!(
        matches!(old.open(&sealed_after, b"factor-1"), Err(CipherError::UnknownKey(id)) if id == key(2).id()),
        "the old ring does not hold the new key"
    );
}

#[test]
fn a_key_the_ring_does_not_hold_is_named() {
    let cipher = cipher(key(1), vec![key(2)]);
    let mut sealed = cipher.seal(b"secret", b"factor-1");
    sealed.key_id = "0123456789abcdef".into();
    assert!(matches!(
        cipher.open(&sealed, b"factor-1"),
        Err(CipherError::UnknownKey(id)) if id == "0123456789abcdef"
    ));
    let mut relabelled = cipher.seal(b"secret", b"factor-1");
    relabelled.key_id = key(2).id();
    assert!(
        matches!(
            cipher.open(&relabelled, b"factor-1"),
            Err(CipherError::Corrupt)
        ),
        "a ciphertext under the wrong key of the ring does not authenticate"
    );
}

#[test]
fn nonces_differ_between_seals() {
    let cipher = cipher(key(1), vec![]);
    let nonces: HashSet<Vec<u8>> = (0..200)
        .map(|_| cipher.seal(b"same", b"same").ciphertext[..12].to_vec())
        .collect();
    assert_eq!(nonces.len(), 200);
}

#[test]
fn the_nonce_comes_from_the_secret_generator_and_the_format_matches_a_reference() {
    // Python (cryptography): enc = hmac.new(key, b"twofa encryption v1", sha256).digest();
    // nonce + AESGCM(enc).encrypt(nonce, b"JBSWY3DPEHPK3PXP", b"factor-1"), nonce = 11 × 12.
    let cipher = AesGcmSecretCipher::new(counting_key(), [], Arc::new(Repeating(0x11)));
    let sealed = cipher.seal(b"JBSWY3DPEHPK3PXP", b"factor-1");
    assert_eq!(
        hex(&sealed.ciphertext),
        "111111111111111111111111f0bedbdc0cfa0a64e46c5cf84cbe6557cabd1d9538554072cafdb8309e00aea1"
    );
    assert_eq!(sealed.key_id, "dd78ea585e764b60");
}

#[test]
fn digests_match_a_reference_and_are_stable() {
    // Python: sub = hmac.new(key, b"twofa digest v1:backup-code", sha256).digest();
    // hmac.new(sub, b"ABCD-EFGH-JK", sha256).hexdigest()
    let cipher = cipher(counting_key(), vec![]);
    let digest = cipher.digest("backup-code", b"ABCD-EFGH-JK");
    assert_eq!(
        digest.to_hex(),
        "07ede7fe0165e7df3991c26f7c727b44a0c251defefd95425f7e00f85ea11e9b"
    );
    assert_eq!(cipher.digest("backup-code", b"ABCD-EFGH-JK"), digest);
}

#[test]
fn digests_differ_per_purpose_per_key_and_per_data() {
    let cipher = cipher(key(1), vec![]);
    let backup = cipher.digest("backup-code", b"123456");
    assert_ne!(cipher.digest("otp", b"123456"), backup);
    assert_ne!(cipher.digest("backup-code", b"123457"), backup);
    let other = self::cipher(key(2), vec![]);
    assert_ne!(other.digest("backup-code", b"123456"), backup);
}

#[test]
fn the_ring_digests_with_every_key_the_current_one_first() {
    let rotated = cipher(key(2), vec![key(1), key(3), key(2), key(1)]);
    let digests = rotated.digests("backup-code", b"123456");
    assert_eq!(digests.len(), 3, "repeated keys count once");
    assert_eq!(digests[0], rotated.digest("backup-code", b"123456"));
    assert_eq!(
        digests[1],
        cipher(key(1), vec![]).digest("backup-code", b"123456"),
        "what the previous key stored is still recognised"
    );
    assert_eq!(
        rotated.key_ids().collect::<Vec<_>>(),
        [key(2).id(), key(1).id(), key(3).id()]
    );
}

#[test]
fn the_debug_form_names_key_ids_only() {
    let cipher = cipher(key(1), vec![key(2)]);
    let shown = format!("{cipher:?}");
    assert!(shown.contains(&key(1).id()), "{shown}");
    assert!(shown.contains(&key(2).id()), "{shown}");
    assert!(!shown.contains(key(1).to_base64().as_str()), "{shown}");
}

#[test]
fn the_padded_hmac_is_standard_hmac_sha256() {
    // Python: hmac.new(bytes([0x0b] * 32), b"Hi There", sha256).hexdigest()
    assert_eq!(
        hex(&hmac_sha256(&[0x0b; 32], &[b"Hi ", b"There"])),
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
    );
}

#[test]
fn a_generated_key_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("secrets.key");
    let first = load_or_generate_secrets_key(&path, &OsSecretGenerator).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{}\n", first.to_base64().as_str())
    );
    let second = load_or_generate_secrets_key(&path, &OsSecretGenerator).unwrap();
    assert_eq!(second, first);
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("secrets.key")]);
}

#[test]
fn processes_starting_together_agree_on_one_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.key");
    let keys: Vec<CipherKey> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = &path;
                scope.spawn(move || load_or_generate_secrets_key(path, &OsSecretGenerator).unwrap())
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(keys.iter().all(|key| *key == keys[0]));
}

#[test]
fn a_corrupt_secrets_key_file_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.key");
    std::fs::write(&path, "c2hvcnQ=\n").unwrap();
    let message = format!(
        "{:#}",
        load_or_generate_secrets_key(&path, &OsSecretGenerator).unwrap_err()
    );
    assert!(message.contains("secrets key"), "{message}");
    assert!(message.contains("32"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "c2hvcnQ=\n");
}
