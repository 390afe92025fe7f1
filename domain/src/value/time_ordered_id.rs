//! Time-ordered ids (UUID version 7) for rows listed newest first: jobs and audit events.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::SecretGenerator;

/// The last (millisecond << 12 | sequence) handed out by this process.
static LAST: AtomicU64 = AtomicU64::new(0);

/// A version 7 UUID for `now`: ids made later sort after ids made earlier. Within this process
/// the order is strict even inside one millisecond: the 12 bits after the timestamp count up
/// (RFC 9562, method 1), and the timestamp moves ahead by a millisecond at most once every
/// 4096 ids in one millisecond; across processes, one millisecond is the resolution.
pub fn time_ordered_id(now: DateTime<Utc>, ids: &dyn SecretGenerator) -> Uuid {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0) & ((1 << 48) - 1);
    let floor = millis << 12;
    let mut last = LAST.load(Ordering::Relaxed);
    let stamp = loop {
        let next = floor.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(current) => last = current,
        }
    };
    let mut random = [0_u8; 8];
    ids.fill_bytes(&mut random);
    let rand_b = u64::from_be_bytes(random) & ((1 << 62) - 1);
    let high = ((stamp >> 12) << 16) | (0x7 << 12) | (stamp & 0xFFF);
    let low = (0b10 << 62) | rand_b;
    Uuid::from_u64_pair(high, low)
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
    fn ids_made_in_one_millisecond_keep_the_order_they_were_made_in() {
        let ids = Counting(AtomicU8::new(0));
        let now = DateTime::parse_from_rfc3339("2026-11-25T11:00:00Z")
            .unwrap()
            .to_utc();
        let made: Vec<Uuid> = (0..5000).map(|_| time_ordered_id(now, &ids)).collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(made, sorted);
        assert!(made.iter().all(|id| id.get_version_num() == 7));
        assert!(
            made.iter()
                .all(|id| id.get_variant() == uuid::Variant::RFC4122)
        );
        let millis = made[0].get_timestamp().unwrap().to_unix();
        assert_eq!(
            millis.0,
            u64::try_from(now.timestamp()).unwrap(),
            "the timestamp is the clock's"
        );
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
