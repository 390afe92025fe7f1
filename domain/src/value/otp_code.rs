//! `OtpCode`: a 6-digit one-time code sent by SMS or e-mail, drawn uniformly from a CSPRNG.

use std::fmt;

use zeroize::Zeroizing;

use crate::SecretGenerator;

/// Digits of a code.
pub const OTP_CODE_DIGITS: usize = 6;

/// A 6-digit code. Its `Debug` form hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(Zeroizing<String>);

impl OtpCode {
    /// A new code, uniform over `000000`–`999999` (rejection sampling, no modulo bias).
    pub fn generate(ids: &dyn SecretGenerator) -> Self {
        // The largest multiple of 10^6 that fits a u32: draws at or above it are redrawn.
        const ZONE: u32 = 4_294_000_000;
        loop {
            let mut bytes = Zeroizing::new([0_u8; 4]);
            ids.fill_bytes(&mut bytes[..]);
            let value = u32::from_be_bytes(*bytes);
            if value < ZONE {
                return Self(Zeroizing::new(format!("{:06}", value % 1_000_000)));
            }
        }
    }

    /// The code `input` names (white space dropped), if it is exactly 6 ASCII digits.
    pub fn parse(input: &str) -> Option<Self> {
        let text: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        (text.len() == OTP_CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(Zeroizing::new(text)))
    }

    /// The digits: what is sent, and what is hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Hands out the queued 4-byte draws in order.
    struct Draws(Mutex<Vec<u32>>);

    impl SecretGenerator for Draws {
        fn fill_bytes(&self, buf: &mut [u8]) {
            let next = self.0.lock().unwrap().remove(0);
            buf.copy_from_slice(&next.to_be_bytes());
        }
    }

    #[test]
    fn a_code_is_six_digits_with_leading_zeros_kept() {
        let code = OtpCode::generate(&Draws(Mutex::new(vec![42])));
        assert_eq!(code.as_str(), "000042");
    }

    #[test]
    fn draws_in_the_biased_zone_are_redrawn() {
        let code = OtpCode::generate(&Draws(Mutex::new(vec![u32::MAX, 4_294_000_000, 1_234_567])));
        assert_eq!(code.as_str(), "234567");
    }

    #[test]
    fn only_six_digits_parse() {
        assert_eq!(OtpCode::parse(" 123 456 ").unwrap().as_str(), "123456");
        assert!(OtpCode::parse("12345").is_none());
        assert!(OtpCode::parse("1234567").is_none());
        assert!(OtpCode::parse("12345a").is_none());
        assert!(OtpCode::parse("１２３４５６").is_none());
    }

    #[test]
    fn a_code_never_shows_in_debug_output() {
        assert_eq!(
            format!("{:?}", OtpCode::parse("123456").unwrap()),
            "OtpCode([redacted])"
        );
    }
}
