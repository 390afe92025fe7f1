//! TOTP (RFC 6238) over HOTP (RFC 4226): the secret, the policy (algorithm, digits, period,
//! skew), the code of a time step, the step a presented code matches, and the `otpauth://`
//! URL an authenticator app reads.
//!
//! A code is accepted once per factor: [`TotpPolicy::matching_step`] answers the step a code
//! belongs to, and the caller accepts it only by advancing the factor's last used step past it
//! with one atomic conditional write (`FactorRepository::advance_step`).

use std::fmt;

use hmac::{Hmac, KeyInit as _, Mac as _};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::SecretGenerator;

/// The bytes of a generated secret: 160 bits, as RFC 4226 recommends.
pub const TOTP_SECRET_BYTES: usize = 20;

/// The HMAC behind the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1, what every authenticator app supports (the default).
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The name in an `otpauth://` URL.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

/// A shared TOTP secret. Its `Debug` form hides it; its bytes are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new random 160-bit secret.
    pub fn generate(ids: &dyn SecretGenerator) -> Self {
        let mut bytes = Zeroizing::new(vec![0_u8; TOTP_SECRET_BYTES]);
        ids.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret of these bytes (one read back from storage, or a test vector's).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in RFC 4648 base32 without padding: what a user types into an app.
    pub fn to_base32(&self) -> String {
        base32(&self.0)
    }

    /// The secret [`TotpSecret::to_base32`] wrote as `text` (upper case, no padding), if it
    /// is one: what an authenticator app reads back.
    pub fn from_base32(text: &str) -> Option<Self> {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
        let (mut buffer, mut bits) = (0_u32, 0);
        for c in text.bytes() {
            let value = ALPHABET.iter().position(|&a| a == c)?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// How codes are made and which steps are accepted (`totp.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpPolicy {
    /// The HMAC.
    pub algorithm: TotpAlgorithm,
    /// Digits per code (6 by default, 8 at most).
    pub digits: u32,
    /// Seconds per step (30 by default).
    pub period: u64,
    /// Steps accepted either side of the current one (`totp.skew`, 1 by default).
    pub skew: u64,
}

impl Default for TotpPolicy {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period: 30,
            skew: 1,
        }
    }
}

impl TotpPolicy {
    /// The time step that `unix_seconds` falls in.
    pub const fn step_at(&self, unix_seconds: u64) -> u64 {
        unix_seconds / self.period
    }

    /// The code of `step` for `secret`.
    pub fn code_at_step(&self, secret: &TotpSecret, step: u64) -> String {
        hotp(self.algorithm, secret.as_bytes(), step, self.digits)
    }

    /// The code for `secret` at `unix_seconds`.
    pub fn code_at(&self, secret: &TotpSecret, unix_seconds: u64) -> String {
        self.code_at_step(secret, self.step_at(unix_seconds))
    }

    /// The step within `skew` of the one `unix_seconds` falls in whose code is `code`, if
    /// any (the latest when several match). Every candidate is computed and compared in
    /// constant time, so the answer's timing does not tell which step was close. Input that
    /// is not exactly `digits` ASCII digits (spaces are ignored) matches nothing.
    pub fn matching_step(&self, secret: &TotpSecret, code: &str, unix_seconds: u64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let digits = usize::try_from(self.digits).ok()?;
        if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = self.step_at(unix_seconds);
        let mut found = None;
        for step in now.saturating_sub(self.skew)..=now.saturating_add(self.skew) {
            let candidate = self.code_at_step(secret, step);
            if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://totp/…` URL for `secret`, labelled `issuer:account`.
    pub fn otpauth_url(&self, secret: &TotpSecret, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
            percent_encode(issuer),
            percent_encode(account),
            secret.to_base32(),
            percent_encode(issuer),
            self.algorithm.as_str(),
            self.digits,
            self.period,
        )
    }
}

/// The RFC 4226 HOTP value of `counter`: HMAC, dynamic truncation, `digits` decimal digits.
pub fn hotp(algorithm: TotpAlgorithm, key: &[u8], counter: u64, digits: u32) -> String {
    let mac = mac(algorithm, key, counter);
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset]) & 0x7f) << 24
        | u32::from(mac[offset + 1]) << 16
        | u32::from(mac[offset + 2]) << 8
        | u32::from(mac[offset + 3]);
    let digits = digits.min(9);
    let value = binary % 10_u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// HMAC-`$digest` of `counter`'s big-endian bytes under `key`.
macro_rules! counter_mac {
    ($digest:ty, $key:expr, $counter:expr) => {{
        // HMAC takes a key of any length, so this never falls back.
        match Hmac::<$digest>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update(&$counter.to_be_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => vec![0; 20],
        }
    }};
}

fn mac(algorithm: TotpAlgorithm, key: &[u8], counter: u64) -> Vec<u8> {
    match algorithm {
        TotpAlgorithm::Sha1 => counter_mac!(sha1::Sha1, key, counter),
        TotpAlgorithm::Sha256 => counter_mac!(sha2::Sha256, key, counter),
        TotpAlgorithm::Sha512 => counter_mac!(sha2::Sha512, key, counter),
    }
}

/// RFC 4648 base32, upper case, without padding.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0_u32;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_KEY: &[u8] = b"12345678901234567890";
    const SHA256_KEY: &[u8] = b"12345678901234567890123456789012";
    const SHA512_KEY: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn hotp_matches_the_rfc_4226_appendix_d_values() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in (0_u64..).zip(expected) {
            assert_eq!(hotp(TotpAlgorithm::Sha1, SHA1_KEY, counter, 6), code);
        }
    }

    #[test]
    fn totp_matches_the_rfc_6238_appendix_b_values() {
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            for (algorithm, key, code) in [
                (TotpAlgorithm::Sha1, SHA1_KEY, sha1),
                (TotpAlgorithm::Sha256, SHA256_KEY, sha256),
                (TotpAlgorithm::Sha512, SHA512_KEY, sha512),
            ] {
                let policy = TotpPolicy {
                    algorithm,
                    digits: 8,
                    ..TotpPolicy::default()
                };
                let secret = TotpSecret::from_bytes(key.to_vec());
                assert_eq!(
                    policy.code_at(&secret, time),
                    code,
                    "{algorithm:?} at {time}"
                );
            }
        }
    }

    fn secret() -> TotpSecret {
        TotpSecret::from_bytes(SHA1_KEY.to_vec())
    }

    #[test]
    fn a_code_matches_its_own_step_and_its_neighbours_within_the_skew() {
        let policy = TotpPolicy::default();
        let now = 1_234_567_890;
        let step = policy.step_at(now);
        for offset in [-1_i64, 0, 1] {
            let other = step.checked_add_signed(offset).unwrap();
            let code = policy.code_at_step(&secret(), other);
            assert_eq!(policy.matching_step(&secret(), &code, now), Some(other));
        }
    }

    #[test]
    fn a_code_two_steps_away_does_not_match_with_a_skew_of_one() {
        let policy = TotpPolicy::default();
        let now = 1_234_567_890;
        let step = policy.step_at(now);
        for other in [step - 2, step + 2] {
            let code = policy.code_at_step(&secret(), other);
            assert_eq!(policy.matching_step(&secret(), &code, now), None);
        }
        let strict = TotpPolicy { skew: 0, ..policy };
        let previous = policy.code_at_step(&secret(), step - 1);
        assert_eq!(strict.matching_step(&secret(), &previous, now), None);
    }

    #[test]
    fn input_that_is_not_six_digits_matches_nothing() {
        let policy = TotpPolicy::default();
        let now = 59;
        let code = policy.code_at(&secret(), now);
        assert_eq!(
            policy.matching_step(&secret(), &format!("{code}0"), now),
            None
        );
        assert_eq!(policy.matching_step(&secret(), &code[..5], now), None);
        assert_eq!(policy.matching_step(&secret(), "abcdef", now), None);
        assert_eq!(policy.matching_step(&secret(), "", now), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(
            policy.matching_step(&secret(), &spaced, now),
            Some(policy.step_at(now))
        );
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn a_secret_reads_back_from_its_base32_form() {
        assert_eq!(
            TotpSecret::from_base32(&secret().to_base32()),
            Some(secret())
        );
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI").unwrap().as_bytes(),
            b"foobar"
        );
        assert_eq!(TotpSecret::from_base32("mzxw6"), None);
        assert_eq!(TotpSecret::from_base32("MZXW6="), None);
    }

    #[test]
    fn the_otpauth_url_names_the_issuer_the_account_and_the_parameters() {
        let url = TotpPolicy::default().otpauth_url(&secret(), "Acme Co", "jane@example.com");
        assert_eq!(
            url,
            "otpauth://totp/Acme%20Co:jane%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", secret()), "TotpSecret([redacted])");
    }
}
