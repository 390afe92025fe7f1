//! `Factor`: a second factor of a user — a TOTP authenticator, a phone number for SMS codes,
//! or an address for e-mail codes — pending until its setup is confirmed, then enabled.
//! `NewFactor` is what a setup stores.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{EmailAddress, FactorId, PhoneNumber, SealedSecret, UserId};

/// What kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactorKind {
    /// Time-based one-time passwords from an authenticator app (RFC 6238).
    Totp,
    /// Codes sent by SMS.
    Sms,
    /// Codes sent by e-mail.
    Email,
}

impl FactorKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Totp, Self::Sms, Self::Email];

    /// The stored and shown name: `totp`, `sms`, `email`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    /// The kind named `name` (exactly as [`FactorKind::as_str`] spells it), if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "totp" => Some(Self::Totp),
            "sms" => Some(Self::Sms),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    /// Whether its codes are sent (SMS, e-mail) rather than computed by the user's app.
    pub const fn is_sent(self) -> bool {
        matches!(self, Self::Sms | Self::Email)
    }

    /// The RFC 8176 `amr` value a verification of it adds: `otp`, `sms`, `email`.
    pub const fn amr(self) -> &'static str {
        match self {
            Self::Totp => "otp",
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

impl fmt::Display for FactorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an SMS or e-mail factor's codes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An E.164 phone number.
    Phone(PhoneNumber),
    /// An e-mail address.
    Email(EmailAddress),
}

impl Destination {
    /// The full destination, as the sender needs it (never log it).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(number) => number.as_str(),
            Self::Email(address) => address.as_str(),
        }
    }

    /// The masked form every response, log line and event shows: `+1********23`,
    /// `j***@example.com`.
    pub fn masked(&self) -> String {
        match self {
            Self::Phone(number) => number.masked(),
            Self::Email(address) => address.masked(),
        }
    }

    /// The destination of `kind` stored as `text`, if it parses as one.
    pub fn parse(kind: FactorKind, text: &str) -> Option<Self> {
        match kind {
            FactorKind::Sms => PhoneNumber::parse(text).ok().map(Self::Phone),
            FactorKind::Email => EmailAddress::parse(text).ok().map(Self::Email),
            FactorKind::Totp => None,
        }
    }
}

/// A second factor as a `FactorRepository` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    /// The factor's identity.
    pub id: FactorId,
    /// Whose factor it is.
    pub user_id: UserId,
    /// What kind it is.
    pub kind: FactorKind,
    /// The TOTP secret, encrypted (TOTP factors only).
    pub secret: Option<SealedSecret>,
    /// Where codes go (SMS and e-mail factors only).
    pub destination: Option<Destination>,
    /// The latest TOTP time step accepted (the replay guard): a step at or before it is refused.
    pub last_used_step: Option<i64>,
    /// When the setup started.
    pub created_at: DateTime<Utc>,
    /// When the setup was confirmed; `None` while pending.
    pub verified_at: Option<DateTime<Utc>>,
    /// When a code of it was last accepted.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Factor {
    /// Whether the setup was confirmed: an enabled factor guards every login.
    pub fn is_enabled(&self) -> bool {
        self.verified_at.is_some()
    }

    /// The masked destination, for SMS and e-mail factors.
    pub fn masked_destination(&self) -> Option<String> {
        self.destination.as_ref().map(Destination::masked)
    }
}

/// What a setup stores: a pending factor. The repository stamps `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFactor {
    /// The new factor's identity (from `SecretGenerator::uuid_v4`).
    pub id: FactorId,
    /// Whose factor it is.
    pub user_id: UserId,
    /// What kind it is.
    pub kind: FactorKind,
    /// The TOTP secret, encrypted with the factor id as associated data.
    pub secret: Option<SealedSecret>,
    /// Where codes go (SMS and e-mail factors).
    pub destination: Option<Destination>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in FactorKind::ALL {
            assert_eq!(FactorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FactorKind::parse("TOTP"), None);
        assert_eq!(FactorKind::parse("backup_code"), None);
    }

    #[test]
    fn each_kind_names_its_rfc_8176_method() {
        assert_eq!(FactorKind::Totp.amr(), "otp");
        assert_eq!(FactorKind::Sms.amr(), "sms");
        assert_eq!(FactorKind::Email.amr(), "email");
        assert!(!FactorKind::Totp.is_sent());
        assert!(FactorKind::Sms.is_sent() && FactorKind::Email.is_sent());
    }

    #[test]
    fn destinations_are_masked_as_the_api_shows_them() {
        let phone = Destination::parse(FactorKind::Sms, "+14155550123").unwrap();
        assert_eq!(phone.masked(), "+1********23");
        let email = Destination::parse(FactorKind::Email, "jane@example.com").unwrap();
        assert_eq!(email.masked(), "j***@example.com");
        assert_eq!(Destination::parse(FactorKind::Totp, "+14155550123"), None);
        assert_eq!(Destination::parse(FactorKind::Sms, "4155550123"), None);
    }
}
