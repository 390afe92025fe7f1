//! `EmailAddress`: a syntactically valid, unquoted e-mail address (`local@domain`), kept as
//! given (trimmed), with a canonical form for case-insensitive uniqueness and a masked form for
//! showing a factor's destination.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not an acceptable e-mail address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    /// Nothing but whitespace.
    #[error("the e-mail address is empty")]
    Empty,
    /// Longer than [`EmailAddress::MAX_LENGTH`] characters.
    #[error(
        "the e-mail address is longer than {} characters",
        EmailAddress::MAX_LENGTH
    )]
    TooLong,
    /// No `@` separating the local part from the domain.
    #[error("the e-mail address has no @")]
    MissingAt,
    /// The part before the `@` is empty, too long, or has a character or dot placement that an
    /// unquoted address does not allow.
    #[error(
        "the part before @ must be 1 to {} letters, digits or !#$%&'*+-/=?^_`{{|}}~, with single \
         dots between them (no spaces, quotes, angle brackets or a second @)",
        EmailAddress::MAX_LOCAL_PART_LENGTH
    )]
    InvalidLocalPart,
    /// The part after the `@` is not a domain name such as `example.com`.
    #[error(
        "the part after @ must be a domain name such as example.com: at least two dot-separated \
         labels of letters, digits and inner hyphens, and a top-level label that is not all digits"
    )]
    InvalidDomain,
}

/// A valid e-mail address.
///
/// Equality compares the address as given; uniqueness of accounts is decided on
/// [`EmailAddress::canonical`], which ignores case.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    value: String,
    /// Byte index of the `@` in `value` (all of `value` is ASCII).
    at: usize,
}

impl EmailAddress {
    /// The longest address accepted, in characters (RFC 5321's path limit less the brackets).
    pub const MAX_LENGTH: usize = 254;
    /// The longest local part accepted, in characters (RFC 5321).
    pub const MAX_LOCAL_PART_LENGTH: usize = 64;
    /// The longest domain label accepted, in characters (RFC 1035).
    pub const MAX_LABEL_LENGTH: usize = 63;

    /// Validates `input` after trimming surrounding whitespace.
    ///
    /// The local part is an unquoted dot-atom (RFC 5322): 1–64 characters from letters, digits
    /// and ``!#$%&'*+-/=?^_`{|}~``, with dots only between them. The domain is at least two
    /// dot-separated labels of letters, digits and hyphens (1–63 characters, no hyphen at either
    /// end), and the last label is not all digits, so an IP address is not a domain.
    pub fn parse(input: &str) -> Result<Self, EmailAddressError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(EmailAddressError::Empty);
        }
        if value.chars().count() > Self::MAX_LENGTH {
            return Err(EmailAddressError::TooLong);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(EmailAddressError::MissingAt)?;
        if !is_valid_local_part(local) {
            return Err(EmailAddressError::InvalidLocalPart);
        }
        if !is_valid_domain(domain) {
            return Err(EmailAddressError::InvalidDomain);
        }
        Ok(Self {
            value: value.to_owned(),
            at: local.len(),
        })
    }

    /// The address as given, without surrounding whitespace.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The whole address in lower case: the form compared for uniqueness, since two addresses
    /// that differ only in case are taken to reach the same mailbox.
    pub fn canonical(&self) -> String {
        self.value.to_ascii_lowercase()
    }

    /// The first character of the local part, `***`, `@` and the domain: `j***@example.com`.
    /// The length of the local part is not revealed.
    pub fn masked(&self) -> String {
        let local = self.local_part();
        let first = &local[..1];
        format!("{first}***@{}", self.domain())
    }
}

/// Whether `local` is an RFC 5322 dot-atom of at most 64 characters.
fn is_valid_local_part(local: &str) -> bool {
    local.len() <= EmailAddress::MAX_LOCAL_PART_LENGTH
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// RFC 5322 `atext`: the characters allowed in an unquoted local part, besides dots.
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte)
}

/// Whether `domain` is two or more LDH labels whose last one is not all digits.
fn is_valid_domain(domain: &str) -> bool {
    let mut labels = 0_usize;
    let mut last = "";
    for label in domain.split('.') {
        if !is_valid_label(label) {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && !last.bytes().all(|byte| byte.is_ascii_digit())
}

/// A letter-digit-hyphen label of 1–63 characters that neither starts nor ends with `-`.
fn is_valid_label(label: &str) -> bool {
    (1..=EmailAddress::MAX_LABEL_LENGTH).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailAddressError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl TryFrom<&str> for EmailAddress {
    type Error = EmailAddressError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl FromStr for EmailAddress {
    type Err = EmailAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> Self {
        address.value
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.value).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StringDeserializer};

    fn parse(input: &str) -> Result<EmailAddress, EmailAddressError> {
        EmailAddress::parse(input)
    }

    fn deserialize(input: &str) -> Result<EmailAddress, DeError> {
        let deserializer: StringDeserializer<DeError> = input.to_owned().into_deserializer();
        EmailAddress::deserialize(deserializer)
    }

    #[test]
    fn accepts_an_ordinary_address_and_keeps_it_as_given() {
        let address = parse("John.Doe@Example.com").unwrap();
        assert_eq!(address.as_str(), "John.Doe@Example.com");
        assert_eq!(address.local_part(), "John.Doe");
        assert_eq!(address.domain(), "Example.com");
        assert_eq!(address.to_string(), "John.Doe@Example.com");
    }

    #[test]
    fn trims_surrounding_whitespace() {
        assert_eq!(
            parse("  jane@example.com\n").unwrap().as_str(),
            "jane@example.com"
        );
    }

    #[test]
    fn accepts_the_special_characters_of_an_unquoted_local_part() {
        assert!(parse("o'brien+tag@example.co.uk").is_ok());
        assert!(parse("a!#$%&'*+-/=?^_`{|}~z@example.com").is_ok());
        assert!(parse("user@xn--bcher-kva.example").is_ok());
        assert!(parse("user@sub-domain.example-1.com").is_ok());
    }

    #[test]
    fn rejects_an_empty_or_blank_input() {
        assert_eq!(parse(""), Err(EmailAddressError::Empty));
        assert_eq!(parse(" \t "), Err(EmailAddressError::Empty));
    }

    #[test]
    fn rejects_an_address_without_an_at() {
        assert_eq!(parse("john.example.com"), Err(EmailAddressError::MissingAt));
    }

    #[test]
    fn rejects_an_address_without_a_local_part() {
        assert_eq!(
            parse("@example.com"),
            Err(EmailAddressError::InvalidLocalPart)
        );
    }

    #[test]
    fn rejects_an_address_without_a_domain() {
        assert_eq!(parse("john@"), Err(EmailAddressError::InvalidDomain));
    }

    #[test]
    fn rejects_a_second_at() {
        assert_eq!(
            parse("a@b@example.com"),
            Err(EmailAddressError::InvalidLocalPart)
        );
    }

    #[test]
    fn rejects_spaces_quotes_and_angle_brackets_in_the_local_part() {
        for input in [
            "jo hn@example.com",
            "\"john\"@example.com",
            "<john>@example.com",
            "jo,hn@example.com",
            "jöhn@example.com",
        ] {
            assert_eq!(
                parse(input),
                Err(EmailAddressError::InvalidLocalPart),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_misplaced_dots_in_the_local_part() {
        for input in [
            ".john@example.com",
            "john.@example.com",
            "jo..hn@example.com",
        ] {
            assert_eq!(
                parse(input),
                Err(EmailAddressError::InvalidLocalPart),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_a_local_part_longer_than_64_characters() {
        let at_limit = format!("{}@example.com", "a".repeat(64));
        let over_limit = format!("{}@example.com", "a".repeat(65));
        assert!(parse(&at_limit).is_ok());
        assert_eq!(parse(&over_limit), Err(EmailAddressError::InvalidLocalPart));
    }

    #[test]
    fn rejects_a_domain_with_a_single_label() {
        assert_eq!(
            parse("john@localhost"),
            Err(EmailAddressError::InvalidDomain)
        );
    }

    #[test]
    fn rejects_malformed_domain_labels() {
        for input in [
            "john@-example.com",
            "john@example-.com",
            "john@exa_mple.com",
            "john@example..com",
            "john@.example.com",
            "john@example.com.",
            "john@exa mple.com",
            "john@[192.168.0.1]",
        ] {
            assert_eq!(
                parse(input),
                Err(EmailAddressError::InvalidDomain),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_a_label_longer_than_63_characters() {
        let at_limit = format!("john@{}.com", "a".repeat(63));
        let over_limit = format!("john@{}.com", "a".repeat(64));
        assert!(parse(&at_limit).is_ok());
        assert_eq!(parse(&over_limit), Err(EmailAddressError::InvalidDomain));
    }

    #[test]
    fn rejects_an_all_digit_top_level_domain() {
        assert_eq!(
            parse("john@192.168.0.1"),
            Err(EmailAddressError::InvalidDomain)
        );
        assert!(parse("john@123.com").is_ok());
        assert!(parse("john@example.c0m").is_ok());
    }

    #[test]
    fn rejects_an_address_longer_than_254_characters() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let at_limit = format!("{}@{domain}", "j".repeat(64));
        assert_eq!(at_limit.len(), 254);
        assert!(parse(&at_limit).is_ok());
        let over_limit = format!("{}@{domain}", "j".repeat(65));
        assert_eq!(parse(&over_limit), Err(EmailAddressError::TooLong));
    }

    #[test]
    fn canonical_form_is_the_lowercased_address() {
        assert_eq!(
            parse("John.Doe@Example.COM").unwrap().canonical(),
            "john.doe@example.com"
        );
    }

    #[test]
    fn addresses_differing_in_case_share_a_canonical_form() {
        let a = parse("JANE@example.com").unwrap();
        let b = parse("jane@EXAMPLE.com").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.canonical(), b.canonical());
    }

    #[test]
    fn masks_all_but_the_first_character_of_the_local_part() {
        assert_eq!(
            parse("john.doe@example.com").unwrap().masked(),
            "j***@example.com"
        );
        assert_eq!(parse("j@example.com").unwrap().masked(), "j***@example.com");
    }

    #[test]
    fn debug_shows_the_value() {
        assert_eq!(
            format!("{:?}", parse("jane@example.com").unwrap()),
            "EmailAddress(\"jane@example.com\")"
        );
    }

    #[test]
    fn deserializes_through_validation() {
        assert_eq!(
            deserialize(" jane@example.com ").unwrap().as_str(),
            "jane@example.com"
        );
        assert!(deserialize("not an address").is_err());
    }

    #[test]
    fn error_messages_name_the_limits() {
        assert!(EmailAddressError::TooLong.to_string().contains("254"));
        assert!(
            EmailAddressError::InvalidLocalPart
                .to_string()
                .contains("64")
        );
    }

    const ATOM: &str = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}";
    const LABEL: &str = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?";
    const TOP_LEVEL: &str = "[a-zA-Z][a-zA-Z0-9]{1,6}|[0-9]{1,3}[a-zA-Z][a-zA-Z0-9]{0,3}";

    fn local_part() -> impl Strategy<Value = String> {
        prop::collection::vec(ATOM, 1..4).prop_map(|atoms| atoms.join("."))
    }

    fn domain() -> impl Strategy<Value = String> {
        (prop::collection::vec(LABEL, 1..4), TOP_LEVEL)
            .prop_map(|(labels, top)| format!("{}.{top}", labels.join(".")))
    }

    fn valid_address() -> impl Strategy<Value = String> {
        (local_part(), domain()).prop_map(|(local, domain)| format!("{local}@{domain}"))
    }

    proptest! {
        #[test]
        fn every_generated_valid_address_parses_and_round_trips(input in valid_address()) {
            let address = EmailAddress::parse(&input).unwrap();
            prop_assert_eq!(address.as_str(), input.as_str());
            let shown = address.to_string();
            prop_assert_eq!(EmailAddress::parse(&shown).unwrap(), address.clone());
            prop_assert_eq!(String::from(address), input);
        }

        #[test]
        fn surrounding_whitespace_never_matters(
            input in valid_address(),
            before in "[ \t\n]{0,3}",
            after in "[ \t\n]{0,3}",
        ) {
            let padded = format!("{before}{input}{after}");
            let address = EmailAddress::parse(&padded).unwrap();
            prop_assert_eq!(address.as_str(), input.as_str());
        }

        #[test]
        fn canonical_is_idempotent_and_case_insensitive(input in valid_address()) {
            let canonical = EmailAddress::parse(&input).unwrap().canonical();
            let again = EmailAddress::parse(&canonical).unwrap().canonical();
            prop_assert_eq!(&again, &canonical);
            let upper = EmailAddress::parse(&input.to_ascii_uppercase()).unwrap().canonical();
            prop_assert_eq!(upper, canonical);
        }

        #[test]
        fn masking_reveals_only_the_first_character_and_the_domain(
            local in local_part(),
            domain in domain(),
        ) {
            let masked = EmailAddress::parse(&format!("{local}@{domain}")).unwrap().masked();
            prop_assert_eq!(masked, format!("{}***@{domain}", &local[..1]));
        }

        #[test]
        fn a_text_without_an_at_is_never_an_address(input in "[^@]{0,80}") {
            prop_assert!(EmailAddress::parse(&input).is_err());
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(input in any::<String>()) {
            let _ = EmailAddress::parse(&input);
        }

        #[test]
        fn every_accepted_address_fits_the_length_limits(input in any::<String>()) {
            if let Ok(address) = EmailAddress::parse(&input) {
                prop_assert!(address.as_str().len() <= EmailAddress::MAX_LENGTH);
                prop_assert!(address.local_part().len() <= EmailAddress::MAX_LOCAL_PART_LENGTH);
                prop_assert!(address.as_str().is_ascii());
            }
        }
    }
}
