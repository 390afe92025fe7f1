//! `Username`: a short public handle of ASCII letters, digits, `_`, `.` and `-`, unique
//! case-insensitively through its canonical (lower-case) form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not an acceptable username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Fewer than [`Username::MIN_LENGTH`] characters (after trimming), including none.
    #[error(
        "the username must be at least {} characters long",
        Username::MIN_LENGTH
    )]
    TooShort,
    /// More than [`Username::MAX_LENGTH`] characters.
    #[error(
        "the username must be at most {} characters long",
        Username::MAX_LENGTH
    )]
    TooLong,
    /// A character other than an ASCII letter, digit, `_`, `.` or `-` (so no spaces and no
    /// `@`: a username never looks like an e-mail address).
    #[error("the username may contain only ASCII letters, digits, _, . and -")]
    InvalidCharacter,
    /// Starts with `_`, `.` or `-`.
    #[error("the username must start with a letter or a digit")]
    InvalidStart,
}

/// A valid username, kept as given (trimmed).
///
/// Equality compares the name as given; uniqueness of accounts is decided on
/// [`Username::canonical`], which ignores case.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// The shortest username accepted, in characters.
    pub const MIN_LENGTH: usize = 3;
    /// The longest username accepted, in characters.
    pub const MAX_LENGTH: usize = 32;

    /// Validates `input` after trimming surrounding whitespace: 3–32 characters of ASCII
    /// letters, digits, `_`, `.` and `-`, starting with a letter or digit.
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let value = input.trim();
        let length = value.chars().count();
        if length < Self::MIN_LENGTH {
            return Err(UsernameError::TooShort);
        }
        if length > Self::MAX_LENGTH {
            return Err(UsernameError::TooLong);
        }
        if !value.bytes().all(is_allowed) {
            return Err(UsernameError::InvalidCharacter);
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(UsernameError::InvalidStart);
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as given, without surrounding whitespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in lower case: the form compared for uniqueness.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The characters a username may contain.
fn is_allowed(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-')
}

impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl TryFrom<&str> for Username {
    type Error = UsernameError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl FromStr for Username {
    type Err = UsernameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Username> for String {
    fn from(username: Username) -> Self {
        username.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StringDeserializer};

    fn parse(input: &str) -> Result<Username, UsernameError> {
        Username::parse(input)
    }

    #[test]
    fn accepts_letters_digits_and_the_three_separators() {
        let username = parse("Jane_Doe-42.x").unwrap();
        assert_eq!(username.as_str(), "Jane_Doe-42.x");
        assert_eq!(username.to_string(), "Jane_Doe-42.x");
    }

    #[test]
    fn accepts_a_name_starting_with_a_digit() {
        assert!(parse("007agent").is_ok());
    }

    #[test]
    fn trims_surrounding_whitespace() {
        assert_eq!(parse("  alice \n").unwrap().as_str(), "alice");
    }

    #[test]
    fn rejects_names_shorter_than_three_characters() {
        assert_eq!(parse(""), Err(UsernameError::TooShort));
        assert_eq!(parse("ab"), Err(UsernameError::TooShort));
        assert_eq!(parse("  ab  "), Err(UsernameError::TooShort));
        assert!(parse("abc").is_ok());
    }

    #[test]
    fn rejects_names_longer_than_thirty_two_characters() {
        assert!(parse(&"a".repeat(32)).is_ok());
        assert_eq!(parse(&"a".repeat(33)), Err(UsernameError::TooLong));
    }

    #[test]
    fn rejects_a_name_that_looks_like_an_email_address() {
        assert_eq!(
            parse("jane@example.com"),
            Err(UsernameError::InvalidCharacter)
        );
    }

    #[test]
    fn rejects_spaces_and_non_ascii_letters() {
        assert_eq!(parse("jane doe"), Err(UsernameError::InvalidCharacter));
        assert_eq!(parse("jöhn"), Err(UsernameError::InvalidCharacter));
        assert_eq!(parse("bob!"), Err(UsernameError::InvalidCharacter));
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(parse("éé"), Err(UsernameError::TooShort));
    }

    #[test]
    fn rejects_a_name_starting_with_a_separator() {
        for input in ["_jane", ".jane", "-jane"] {
            assert_eq!(parse(input), Err(UsernameError::InvalidStart), "{input}");
        }
    }

    #[test]
    fn canonical_form_is_lower_case() {
        assert_eq!(parse("Jane_DOE").unwrap().canonical(), "jane_doe");
    }

    #[test]
    fn deserializes_through_validation() {
        let ok: StringDeserializer<DeError> = "alice".to_owned().into_deserializer();
        assert_eq!(Username::deserialize(ok).unwrap().as_str(), "alice");
        let bad: StringDeserializer<DeError> = "a".to_owned().into_deserializer();
        assert!(Username::deserialize(bad).is_err());
    }

    const VALID: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]{2,31}";

    proptest! {
        #[test]
        fn every_generated_valid_name_parses_and_round_trips(input in VALID) {
            let username = Username::parse(&input).unwrap();
            prop_assert_eq!(username.as_str(), input.as_str());
            let shown = username.to_string();
            prop_assert_eq!(Username::parse(&shown).unwrap(), username);
        }

        #[test]
        fn canonical_is_idempotent_and_case_insensitive(input in VALID) {
            let canonical = Username::parse(&input).unwrap().canonical();
            prop_assert_eq!(Username::parse(&canonical).unwrap().canonical(), canonical.clone());
            let upper = Username::parse(&input.to_ascii_uppercase()).unwrap().canonical();
            prop_assert_eq!(upper, canonical);
        }

        #[test]
        fn names_of_the_wrong_length_are_rejected(
            input in "[a-z]{0,2}|[a-z]{33,64}",
        ) {
            prop_assert!(Username::parse(&input).is_err());
        }

        #[test]
        fn every_accepted_name_obeys_the_rules(input in any::<String>()) {
            if let Ok(username) = Username::parse(&input) {
                let name = username.as_str();
                prop_assert!((Username::MIN_LENGTH..=Username::MAX_LENGTH).contains(&name.len()));
                prop_assert!(name.bytes().all(is_allowed));
                prop_assert!(!name.contains('@'));
            }
        }
    }
}
