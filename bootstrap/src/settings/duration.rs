//! Durations written as human-readable strings: `"30s"`, `"15m"`, `"30d"`.

use std::time::Duration;

use serde::{Deserialize as _, Deserializer};

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({error}); write e.g. \"30s\", \"15m\" or \"30d\""
        ))
    })
}
