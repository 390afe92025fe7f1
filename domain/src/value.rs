//! Value objects: validated on construction, so a value of the type is always well-formed.

pub mod email_address;
pub mod ids;
pub mod password;
pub mod phone_number;
pub mod time_ordered_id;
pub mod username;
