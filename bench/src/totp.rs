//! TOTP as an authenticator app computes it (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps),
//! so the verify scenario can answer the service's challenges: the secret as the service
//! hands it out (RFC 4648 base32), the current step, and the code of a step.

use std::time::UNIX_EPOCH;

use anyhow::{Context as _, bail};
use hmac::{Hmac, KeyInit, Mac};

/// Seconds per TOTP step.
pub const STEP_SECONDS: u64 = 30;

/// Digits of a code.
const DIGITS: u32 = 6;

/// The TOTP step of this moment (Unix time over 30 seconds).
pub fn current_step() -> anyhow::Result<u64> {
    let now = UNIX_EPOCH
        .elapsed()
        .context("the system clock is before 1970")?;
    Ok(now.as_secs() / STEP_SECONDS)
}

/// The 6-digit code of `step` for `key` (the raw secret bytes), zero-padded.
pub fn code(key: &[u8], step: u64) -> String {
    format!("{:06}", truncated(key, step) % 10_u32.pow(DIGITS))
}

/// RFC 4226's dynamic truncation of HMAC-SHA1(`key`, `step`): a 31-bit number.
fn truncated(key: &[u8], step: u64) -> u32 {
    // HMAC takes a key of any length, so this never falls back.
    let digest = match Hmac::<sha1::Sha1>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(&step.to_be_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => vec![0; 20],
    };
    let offset = usize::from(digest.last().copied().unwrap_or(0) & 0x0f);
    let mut word = [0_u8; 4];
    if let Some(bytes) = digest.get(offset..offset + 4) {
        word.copy_from_slice(bytes);
    }
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// Decodes RFC 4648 base32 (upper or lower case, padding and spaces ignored).
pub fn decode_base32(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0_u32;
    for character in text.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let value = match character.to_ascii_uppercase() {
            letter @ 'A'..='Z' => u32::from(letter) - u32::from('A'),
            digit @ '2'..='7' => u32::from(digit) - u32::from('2') + 26,
            other => bail!("'{other}' is not a base32 character"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or(0));
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA1: at T = 59 s the 8-digit code is 94287082.
    #[test]
    fn the_rfc_6238_sha1_vector_gives_its_last_six_digits() {
        assert_eq!(code(b"12345678901234567890", 59 / STEP_SECONDS), "287082");
    }

    #[test]
    fn the_rfc_6238_sha1_vector_at_a_later_time_matches_too() {
        // T = 1111111109 s: 07081804.
        assert_eq!(
            code(b"12345678901234567890", 1_111_111_109 / STEP_SECONDS),
            "081804"
        );
    }

    #[test]
    fn base32_decodes_the_rfc_4648_vectors() {
        assert_eq!(decode_base32("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(decode_base32("mzxw6ytb").unwrap(), b"fooba");
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
    }

    #[test]
    fn a_character_outside_the_alphabet_is_refused() {
        assert!(decode_base32("MZ1W").is_err());
    }

    #[test]
    fn the_current_step_is_after_2020() {
        assert!(current_step().unwrap() > 1_577_836_800 / STEP_SECONDS);
    }
}
