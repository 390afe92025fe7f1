//! `PhoneNumber`: a strict E.164 number (`+` and 8 to 15 digits), the destination of SMS codes.
//! Its `Debug` form is masked, so a full number never reaches a log by accident.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not an acceptable E.164 phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    /// Does not start with `+` (including an empty input, and national forms like `0044…`).
    #[error("the phone number must be in E.164 form, starting with + and the country code")]
    MissingPlus,
    /// Something other than a digit after the `+`.
    #[error(
        "the phone number may contain only digits after the + (no spaces, dashes, dots or \
         brackets), e.g. +14155550123"
    )]
    NotDigits,
    /// Fewer than [`PhoneNumber::MIN_DIGITS`] or more than [`PhoneNumber::MAX_DIGITS`] digits.
    #[error(
        "the phone number must have {} to {} digits after the +",
        PhoneNumber::MIN_DIGITS,
        PhoneNumber::MAX_DIGITS
    )]
    WrongLength,
    /// The first digit after the `+` is `0`; no country code starts with 0.
    #[error("the digit after the + must be a country code, which never starts with 0")]
    LeadingZero,
}

/// A valid E.164 phone number such as `+14155550123`.
///
/// `Display` and serialization give the full number (needed to send an SMS and to store it);
/// `Debug` gives [`PhoneNumber::masked`], so `{:?}` in a log line or a span field is safe.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The fewest digits accepted after the `+`.
    pub const MIN_DIGITS: usize = 8;
    /// The most digits accepted after the `+` (E.164's maximum).
    pub const MAX_DIGITS: usize = 15;
    /// How many trailing digits [`PhoneNumber::masked`] keeps.
    const VISIBLE_TRAILING_DIGITS: usize = 2;

    /// Validates `input` after trimming surrounding whitespace: `+`, then 8 to 15 ASCII digits,
    /// the first of them 1–9. Spaces, dashes and other separators are refused, not removed.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let value = input.trim();
        let digits = value
            .strip_prefix('+')
            .ok_or(PhoneNumberError::MissingPlus)?;
        if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(PhoneNumberError::NotDigits);
        }
        if digits.starts_with('0') {
            return Err(PhoneNumberError::LeadingZero);
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneNumberError::WrongLength);
        }
        Ok(Self(value.to_owned()))
    }

    /// The full number, `+` included: for the SMS sender and storage only, never for a log.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with every digit but the first and the last two replaced by `*`, the length
    /// unchanged: `+14155550123` becomes `+1********23`.
    pub fn masked(&self) -> String {
        let hidden_until = self.0.len() - Self::VISIBLE_TRAILING_DIGITS;
        self.0
            .char_indices()
            .map(|(index, c)| {
                if index < 2 || index >= hidden_until {
                    c
                } else {
                    '*'
                }
            })
            .collect()
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneNumberError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl TryFrom<&str> for PhoneNumber {
    type Error = PhoneNumberError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<PhoneNumber> for String {
    fn from(number: PhoneNumber) -> Self {
        number.0
    }
}

/// The full number: what the SMS sender needs. Log [`PhoneNumber::masked`] or `{:?}` instead.
impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The masked number, `PhoneNumber(+1********23)`.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StringDeserializer};

    fn parse(input: &str) -> Result<PhoneNumber, PhoneNumberError> {
        PhoneNumber::parse(input)
    }

    #[test]
    fn accepts_an_e164_number() {
        let number = parse("+14155550123").unwrap();
        assert_eq!(number.as_str(), "+14155550123");
        assert_eq!(number.to_string(), "+14155550123");
    }

    #[test]
    fn trims_surrounding_whitespace() {
        assert_eq!(parse(" +447911123456\n").unwrap().as_str(), "+447911123456");
    }

    #[test]
    fn rejects_a_number_without_a_plus() {
        assert_eq!(parse("14155550123"), Err(PhoneNumberError::MissingPlus));
        assert_eq!(parse("00447911123456"), Err(PhoneNumberError::MissingPlus));
        assert_eq!(parse(""), Err(PhoneNumberError::MissingPlus));
    }

    #[test]
    fn rejects_spaces_dashes_and_brackets() {
        for input in [
            "+1 415 555 0123",
            "+1-415-555-0123",
            "+1(415)5550123",
            "+1.415.555.0123",
            "++14155550123",
            "+１４１５５５５０１２３",
        ] {
            assert_eq!(parse(input), Err(PhoneNumberError::NotDigits), "{input}");
        }
    }

    #[test]
    fn says_that_separators_are_not_accepted() {
        let message = PhoneNumberError::NotDigits.to_string();
        assert!(message.contains("no spaces, dashes"), "{message}");
    }

    #[test]
    fn rejects_a_country_code_starting_with_zero() {
        assert_eq!(parse("+04155550123"), Err(PhoneNumberError::LeadingZero));
    }

    #[test]
    fn accepts_eight_to_fifteen_digits_only() {
        assert_eq!(parse("+"), Err(PhoneNumberError::WrongLength));
        assert_eq!(parse("+1234567"), Err(PhoneNumberError::WrongLength));
        assert!(parse("+12345678").is_ok());
        assert!(parse("+123456789012345").is_ok());
        assert_eq!(
            parse("+1234567890123456"),
            Err(PhoneNumberError::WrongLength)
        );
    }

    #[test]
    fn masks_as_the_api_shows() {
        assert_eq!(parse("+14155550123").unwrap().masked(), "+1********23");
        assert_eq!(parse("+12345678").unwrap().masked(), "+1*****78");
    }

    #[test]
    fn debug_prints_only_the_masked_number() {
        let debug = format!("{:?}", parse("+14155550123").unwrap());
        assert_eq!(debug, "PhoneNumber(+1********23)");
        assert!(!debug.contains("555"));
    }

    #[test]
    fn deserializes_through_validation() {
        let ok: StringDeserializer<DeError> = "+14155550123".to_owned().into_deserializer();
        assert_eq!(
            PhoneNumber::deserialize(ok).unwrap().as_str(),
            "+14155550123"
        );
        let bad: StringDeserializer<DeError> = "+1 415 555".to_owned().into_deserializer();
        assert!(PhoneNumber::deserialize(bad).is_err());
    }

    const VALID: &str = "\\+[1-9][0-9]{7,14}";

    proptest! {
        #[test]
        fn every_generated_valid_number_parses_and_round_trips(input in VALID) {
            let number = PhoneNumber::parse(&input).unwrap();
            prop_assert_eq!(number.as_str(), input.as_str());
            prop_assert_eq!(PhoneNumber::parse(&number.to_string()).unwrap(), number);
        }

        #[test]
        fn masking_keeps_the_length_and_the_ends_and_hides_the_middle(input in VALID) {
            let masked = PhoneNumber::parse(&input).unwrap().masked();
            prop_assert_eq!(masked.len(), input.len());
            prop_assert_eq!(&masked[..2], &input[..2]);
            prop_assert_eq!(&masked[masked.len() - 2..], &input[input.len() - 2..]);
            prop_assert!(masked[2..masked.len() - 2].chars().all(|c| c == '*'));
        }

        #[test]
        fn debug_never_contains_the_hidden_digits(input in VALID) {
            let debug = format!("{:?}", PhoneNumber::parse(&input).unwrap());
            let middle = &input[2..input.len() - 2];
            prop_assert!(!debug.contains(middle));
        }

        #[test]
        fn numbers_of_the_wrong_length_are_rejected(input in "\\+[1-9]([0-9]{0,6}|[0-9]{15,20})") {
            prop_assert_eq!(PhoneNumber::parse(&input), Err(PhoneNumberError::WrongLength));
        }

        #[test]
        fn separators_anywhere_are_rejected(
            input in VALID,
            position in 2_usize..9,
            separator in "[ ().-]",
        ) {
            let mut with_separator = input.clone();
            with_separator.insert_str(position, &separator);
            prop_assert_eq!(PhoneNumber::parse(&with_separator), Err(PhoneNumberError::NotDigits));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(input in any::<String>()) {
            let _ = PhoneNumber::parse(&input);
        }
    }
}
