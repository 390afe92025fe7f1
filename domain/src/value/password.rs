//! `Password`: a new password that meets the policy (NIST SP 800-63B): 8–128 characters, not
//! one of the most common passwords, and no composition rules. Only new passwords (register,
//! change, reset) go through it; a login compares whatever was typed against the stored hash.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// The fewest characters (Unicode scalar values) a password may have.
pub const MIN_LENGTH: usize = 8;
/// The most characters (Unicode scalar values) a password may have.
pub const MAX_LENGTH: usize = 128;

/// The bundled list of common passwords: one per line, lower case, only entries of
/// [`MIN_LENGTH`] characters or more (shorter ones fail the length rule anyway).
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// The list as a set, built on first use.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// Why a password does not meet the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than `min` characters.
    #[error("the password must be at least {min} characters long")]
    TooShort {
        /// The minimum, [`MIN_LENGTH`].
        min: usize,
    },
    /// More than `max` characters.
    #[error("the password must be at most {max} characters long")]
    TooLong {
        /// The maximum, [`MAX_LENGTH`].
        max: usize,
    },
    /// On the list of commonly used passwords, whatever its case.
    #[error("the password is too common; choose a less predictable one")]
    Common,
}

/// A password that meets the policy. It cannot be printed (`Debug` shows `Password(***)`,
/// there is no `Display`) nor serialized; [`Password::expose`] is the one way to read it, for
/// the hasher.
pub struct Password(String);

impl Password {
    /// The fewest characters a password may have: [`MIN_LENGTH`].
    pub const MIN_LENGTH: usize = MIN_LENGTH;
    /// The most characters a password may have: [`MAX_LENGTH`].
    pub const MAX_LENGTH: usize = MAX_LENGTH;

    /// Checks `password` against the policy. Length counts Unicode scalar values, not bytes;
    /// the text is kept exactly as given (no trimming: spaces are allowed characters).
    pub fn new(password: String) -> Result<Self, PasswordError> {
        let length = password.chars().count();
        if length < MIN_LENGTH {
            return Err(PasswordError::TooShort { min: MIN_LENGTH });
        }
        if length > MAX_LENGTH {
            return Err(PasswordError::TooLong { max: MAX_LENGTH });
        }
        if is_common(&password) {
            return Err(PasswordError::Common);
        }
        Ok(Self(password))
    }

    /// The password itself, for hashing. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `password`, ignoring case, is on the bundled list.
fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn new(password: &str) -> Result<Password, PasswordError> {
        Password::new(password.to_owned())
    }

    fn rejection(password: &str) -> Option<PasswordError> {
        new(password).err()
    }

    #[test]
    fn accepts_a_long_enough_uncommon_password_as_given() {
        let password = new(" correct horse battery staple ").unwrap();
        assert_eq!(password.expose(), " correct horse battery staple ");
    }

    #[test]
    fn needs_no_digits_capitals_or_symbols() {
        assert!(new("plainlowercaseletters").is_ok());
    }

    #[test]
    fn rejects_a_password_shorter_than_eight_characters() {
        assert_eq!(rejection(""), Some(PasswordError::TooShort { min: 8 }));
        assert_eq!(
            rejection("xk4!pz9"),
            Some(PasswordError::TooShort { min: 8 })
        );
        assert!(new("xk4!pz9q").is_ok());
    }

    #[test]
    fn rejects_a_password_longer_than_128_characters() {
        assert!(new(&"xk4!".repeat(32)).is_ok());
        assert_eq!(
            rejection(&format!("{}z", "xk4!".repeat(32))),
            Some(PasswordError::TooLong { max: 128 })
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        // Seven two-byte characters are fourteen bytes but only seven characters.
        assert_eq!(
            rejection(&"é".repeat(7)),
            Some(PasswordError::TooShort { min: 8 })
        );
        assert!(new(&"🔑".repeat(8)).is_ok());
        // 128 four-byte characters are 512 bytes and still allowed.
        assert!(new(&"🔑".repeat(128)).is_ok());
        assert_eq!(
            rejection(&"é".repeat(129)),
            Some(PasswordError::TooLong { max: 128 })
        );
    }

    #[test]
    fn rejects_common_passwords_whatever_their_case() {
        for password in [
            "password",
            "PASSWORD",
            "Password1",
            "12345678",
            "123456789",
            "qwertyuiop",
            "QwErTyUiOp",
            "iloveyou12",
            "1q2w3e4r",
        ] {
            assert_eq!(
                rejection(password),
                Some(PasswordError::Common),
                "{password}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let debug = format!("{:?}", new("xk4!pz9q-secret").unwrap());
        assert_eq!(debug, "Password(***)");
    }

    #[test]
    fn error_messages_name_the_limits() {
        assert!(
            PasswordError::TooShort { min: MIN_LENGTH }
                .to_string()
                .contains('8')
        );
        assert!(
            PasswordError::TooLong { max: MAX_LENGTH }
                .to_string()
                .contains("128")
        );
    }

    #[test]
    fn the_bundled_list_is_lower_case_long_enough_and_free_of_duplicates() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 300, "only {} entries", lines.len());
        assert_eq!(COMMON.len(), lines.len(), "duplicate or blank lines");
        for line in lines {
            assert_eq!(line, line.trim(), "{line:?}");
            assert_eq!(line, line.to_lowercase(), "{line:?}");
            assert!(line.chars().count() >= MIN_LENGTH, "{line:?}");
        }
    }

    fn uncommon_text(lengths: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), lengths)
            .prop_map(String::from_iter)
            .prop_filter("on the common list", |text| !is_common(text))
    }

    fn common_entry() -> impl Strategy<Value = &'static str> {
        let entries: Vec<&'static str> = COMMON_PASSWORDS.lines().collect();
        prop::sample::select(entries)
    }

    proptest! {
        #[test]
        fn every_uncommon_password_of_8_to_128_characters_is_accepted(
            text in uncommon_text(MIN_LENGTH..=MAX_LENGTH),
        ) {
            let password = Password::new(text.clone()).unwrap();
            prop_assert_eq!(password.expose(), text.as_str());
        }

        #[test]
        fn every_password_under_8_characters_is_rejected(text in uncommon_text(0..=MIN_LENGTH - 1)) {
            prop_assert_eq!(Password::new(text).err(), Some(PasswordError::TooShort { min: MIN_LENGTH }));
        }

        #[test]
        fn every_password_over_128_characters_is_rejected(
            text in uncommon_text(MAX_LENGTH + 1..=3 * MAX_LENGTH),
        ) {
            prop_assert_eq!(Password::new(text).err(), Some(PasswordError::TooLong { max: MAX_LENGTH }));
        }

        #[test]
        fn every_listed_password_is_rejected_in_any_case(
            entry in common_entry(),
            upper in prop::collection::vec(any::<bool>(), MAX_LENGTH),
        ) {
            let mixed: String = entry
                .chars()
                .zip(upper)
                .map(|(c, is_upper)| if is_upper { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert_eq!(Password::new(mixed).err(), Some(PasswordError::Common));
        }

        #[test]
        fn debug_never_contains_the_password(text in uncommon_text(MIN_LENGTH..=MAX_LENGTH)) {
            let password = Password::new(text).unwrap();
            prop_assert_eq!(format!("{password:?}"), "Password(***)");
        }
    }
}
