//! twofa's pure core: entities, value objects, policies, the ports (traits) the use cases are
//! written against, and the errors those ports promise.
//!
//! What belongs here: types whose rules hold whatever stores or sends them (an e-mail address
//! is valid or not on every backend), and the traits that name each seam of the hexagon.
//! What must not: I/O of any kind, an async runtime, a web framework, a database driver or a
//! configuration loader. The suite's dependency guard fails if one of those reaches this crate.

pub mod port;
pub mod value;

pub use port::{
    clock::Clock,
    dependency_probe::{DependencyProbe, ProbeError},
    error::PortError,
    secret_generator::SecretGenerator,
};
pub use value::{
    email_address::{EmailAddress, EmailAddressError},
    ids::UserId,
    password::{Password, PasswordError},
    phone_number::{PhoneNumber, PhoneNumberError},
    username::{Username, UsernameError},
};
