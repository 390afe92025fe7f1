//! `BackupCode`: a single-use recovery code, 12 characters of Crockford's base32 alphabet (60
//! bits), shown as `XXXX-XXXX-XXXX` and read back case- and dash-insensitively (Crockford's
//! `O` → `0`, `I`/`L` → `1` as well). Stored only as a keyed hash.

use std::fmt;

use zeroize::Zeroizing;

use crate::SecretGenerator;

/// Codes issued at once: enrolling the first factor, and each regeneration.
pub const BACKUP_CODE_COUNT: usize = 10;

/// Characters of a code (60 bits of randomness).
pub const BACKUP_CODE_LENGTH: usize = 12;

/// At most this many unused codes left raise `2fa.backup_codes.low`.
pub const BACKUP_CODES_LOW: u32 = 2;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why typed text is not a backup code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BackupCodeError {
    /// Not 12 characters once dashes and spaces are dropped.
    #[error("a backup code has 12 characters")]
    WrongLength,
    /// A character outside Crockford's base32 alphabet.
    #[error("a backup code has only letters and digits of Crockford's base32 alphabet")]
    NotBase32,
}

/// A backup code in its canonical form (12 upper-case characters, no dashes).
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(Zeroizing<String>);

impl BackupCode {
    /// A new random code.
    pub fn generate(ids: &dyn SecretGenerator) -> Self {
        let mut bytes = Zeroizing::new([0_u8; 8]);
        ids.fill_bytes(&mut bytes[..]);
        let bits = u64::from_be_bytes(*bytes) >> 4;
        let mut text = Zeroizing::new(String::with_capacity(BACKUP_CODE_LENGTH));
        for index in (0..BACKUP_CODE_LENGTH).rev() {
            let symbol = usize::try_from((bits >> (index * 5)) & 31).unwrap_or(0);
            text.push(char::from(ALPHABET[symbol]));
        }
        Self(text)
    }

    /// The code `input` names: dashes and white space dropped, any case, Crockford's
    /// look-alikes (`O`, `I`, `L`) read as the digits they stand for.
    pub fn parse(input: &str) -> Result<Self, BackupCodeError> {
        let mut text = Zeroizing::new(String::with_capacity(BACKUP_CODE_LENGTH));
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(BackupCodeError::NotBase32);
            }
            if text.len() == BACKUP_CODE_LENGTH {
                return Err(BackupCodeError::WrongLength);
            }
            text.push(c);
        }
        if text.len() == BACKUP_CODE_LENGTH {
            Ok(Self(text))
        } else {
            Err(BackupCodeError::WrongLength)
        }
    }

    /// The canonical form: what is hashed.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// The form shown once to the user: `XXXX-XXXX-XXXX`.
    pub fn display(&self) -> String {
        format!("{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use proptest::prelude::*;

    use super::*;

    /// Bytes counting up from a seed: repeatable codes.
    struct Counting(AtomicU8);

    impl SecretGenerator for Counting {
        fn fill_bytes(&self, buf: &mut [u8]) {
            for byte in buf {
                *byte = self.0.fetch_add(37, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn a_generated_code_is_twelve_crockford_characters_shown_in_three_groups() {
        let ids = Counting(AtomicU8::new(3));
        let code = BackupCode::generate(&ids);
        assert_eq!(code.canonical().len(), BACKUP_CODE_LENGTH);
        assert!(code.canonical().bytes().all(|b| ALPHABET.contains(&b)));
        let shown = code.display();
        assert_eq!(shown.len(), 14);
        assert_eq!(&shown[4..5], "-");
        assert_eq!(&shown[9..10], "-");
    }

    #[test]
    fn codes_from_different_randomness_differ() {
        let ids = Counting(AtomicU8::new(3));
        let codes: std::collections::HashSet<String> = (0..BACKUP_CODE_COUNT)
            .map(|_| BackupCode::generate(&ids).canonical().to_owned())
            .collect();
        assert_eq!(codes.len(), BACKUP_CODE_COUNT);
    }

    #[test]
    fn input_is_read_without_regard_to_case_dashes_or_look_alikes() {
        let code = BackupCode::parse("0123-4567-89AB").unwrap();
        assert_eq!(code.canonical(), "0123456789AB");
        assert_eq!(BackupCode::parse("o123 4567 89ab").unwrap(), code);
        assert_eq!(BackupCode::parse("0l23-4567-89ab").unwrap(), code);
        assert_eq!(BackupCode::parse("0i2345678 9ab").unwrap(), code);
    }

    #[test]
    fn input_of_the_wrong_length_or_alphabet_is_refused() {
        assert_eq!(
            BackupCode::parse("0123-4567-89A"),
            Err(BackupCodeError::WrongLength)
        );
        assert_eq!(
            BackupCode::parse("0123-4567-89ABC"),
            Err(BackupCodeError::WrongLength)
        );
        assert_eq!(
            BackupCode::parse("0123-4567-89AU"),
            Err(BackupCodeError::NotBase32)
        );
        assert_eq!(BackupCode::parse(""), Err(BackupCodeError::WrongLength));
        assert_eq!(
            BackupCode::parse("0123-4567-89A\u{e9}"),
            Err(BackupCodeError::NotBase32)
        );
    }

    #[test]
    fn a_code_never_shows_in_debug_output() {
        let code = BackupCode::parse("0123456789AB").unwrap();
        assert_eq!(format!("{code:?}"), "BackupCode([redacted])");
    }

    proptest! {
        #[test]
        fn what_is_shown_reads_back_as_the_same_code(seed in any::<u8>()) {
            let code = BackupCode::generate(&Counting(AtomicU8::new(seed)));
            prop_assert_eq!(BackupCode::parse(&code.display()).unwrap(), code.clone());
            prop_assert_eq!(BackupCode::parse(&code.display().to_lowercase()).unwrap(), code);
        }

        #[test]
        fn no_text_makes_the_parser_panic(input in "\\PC{0,40}") {
            let _ = BackupCode::parse(&input);
        }
    }
}
