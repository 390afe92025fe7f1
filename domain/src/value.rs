//! Value objects: validated on construction, so a value of the type is always well-formed.

pub mod api_key_token;
pub mod backup_code;
pub mod email_address;
pub mod ids;
pub mod otp_code;
pub mod password;
pub mod phone_number;
pub mod secret_digest;
pub mod time_ordered_id;
pub mod totp;
pub mod username;
