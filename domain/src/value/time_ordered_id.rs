//! Time-ordered ids (UUID version 7) for rows listed newest first: jobs and audit events.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::SecretGenerator;

/// A version 7 UUID for `now`: ids made later sort after ids made earlier (to the
/// millisecond; within one millisecond the random part decides), so `ORDER BY id` is time order.
pub fn time_ordered_id(now: DateTime<Utc>, ids: &dyn SecretGenerator) -> Uuid {
    let mut random = [0_u8; 10];
    ids.fill_bytes(&mut random);
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Declares a UUID newtype id: `Copy`, ordered, serialized and shown as the hyphenated UUID.
#[macro_export]
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use chrono::TimeDelta;

    use super::*;

    struct Counting(AtomicU8);

    impl SecretGenerator for Counting {
        fn fill_bytes(&self, buf: &mut [u8]) {
            let value = 255 - self.0.fetch_add(1, Ordering::Relaxed);
            buf.fill(value);
        }
    }

    #[test]
    fn a_later_id_sorts_after_an_earlier_one_whatever_the_random_part() {
        let ids = Counting(AtomicU8::new(0));
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let earlier = time_ordered_id(now, &ids);
        let later = time_ordered_id(now + TimeDelta::milliseconds(1), &ids);
        assert!(earlier < later);
        assert_eq!(later.get_version_num(), 7);
    }
}
