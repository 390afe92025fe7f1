//! Entities: the records with an identity that the use cases load, change and store through
//! the repository ports. Their fields hold value objects, so a stored entity is valid by
//! construction.

pub mod api_key;
pub mod factor;
pub mod session;
pub mod trusted_device;
pub mod user;
pub mod webhook;
