//! Identifiers: `UserId`, `FactorId`, `DeviceId`, `ApiKeyId`, `WebhookEndpointId` and
//! `WebhookDeliveryId`, UUID newtypes. Ids are never made here; fresh ones come from the
//! `SecretGenerator` port (`SecretGenerator::uuid_v4`), so tests can make them repeatable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of a user account. Shown and parsed as the hyphenated UUID
/// (`67e55044-10b1-426f-9247-bb680e5fe0c8`); serialized the same way.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    /// Wraps an existing UUID (one read from storage, or one from `SecretGenerator::uuid_v4`).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for UserId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<UserId> for Uuid {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for UserId {
    type Err = uuid::Error;

    /// Accepts any form `uuid` parses (hyphenated, simple, braced, URN).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A UUID newtype shown and parsed like [`UserId`].
macro_rules! uuid_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

uuid_id! {
    /// The identity of a second factor (a TOTP authenticator, a phone number, an address).
    FactorId;
    /// The identity of a trusted device.
    DeviceId;
    /// The identity of an API key.
    ApiKeyId;
    /// The identity of a webhook endpoint.
    WebhookEndpointId;
    /// The identity of a webhook delivery (time-ordered, from `time_ordered_id`).
    WebhookDeliveryId;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn displays_as_the_hyphenated_lowercase_uuid() {
        let id: UserId = "67E55044-10B1-426F-9247-BB680E5FE0C8".parse().unwrap();
        assert_eq!(id.to_string(), TEXT);
    }

    #[test]
    fn rejects_text_that_is_not_a_uuid() {
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert!("".parse::<UserId>().is_err());
    }

    #[test]
    fn wraps_and_unwraps_the_same_uuid() {
        let uuid = Uuid::parse_str(TEXT).unwrap();
        assert_eq!(UserId::from_uuid(uuid).as_uuid(), uuid);
        assert_eq!(Uuid::from(UserId::from(uuid)), uuid);
    }

    proptest! {
        #[test]
        fn every_id_round_trips_through_its_text(bits in any::<u128>()) {
            let id = UserId::from_uuid(Uuid::from_u128(bits));
            prop_assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        }

        #[test]
        fn orders_like_the_underlying_uuid(a in any::<u128>(), b in any::<u128>()) {
            let (ua, ub) = (Uuid::from_u128(a), Uuid::from_u128(b));
            prop_assert_eq!(UserId::from_uuid(ua).cmp(&UserId::from_uuid(ub)), ua.cmp(&ub));
        }
    }
}
