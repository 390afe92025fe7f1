//! twofa's pure core: entities, value objects, policies, the ports (traits) the use cases are
//! written against, and the errors those ports promise.
//!
//! What belongs here: types whose rules hold whatever stores or sends them (an e-mail address
//! is valid or not on every backend), and the traits that name each seam of the hexagon.
//! What must not: I/O of any kind, an async runtime, a web framework, a database driver or a
//! configuration loader. The suite's dependency guard fails if one of those reaches this crate.

pub mod entity;
pub mod port;
pub mod value;

pub use entity::session::{NewSession, RefreshTokenHash, SESSION_USER_AGENT_LIMIT, Session};
pub use entity::user::{NewUser, Role, User};
pub use port::one_time_token_repository::{
    NewOneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, TokenPurpose,
};
pub use port::session_repository::{
    PresentedToken, RotateOutcome, SessionRepository, is_within_grace,
};
pub use port::user_repository::{
    USER_LIST_MAX_LIMIT, UniqueField, UserRepository, UserRepositoryError, canonical_login,
    clamp_user_list_limit,
};
pub use port::{
    audit_log::{
        Actor, ActorKind, AuditDetails, AuditEvent, AuditEventId, AuditLog, AuditPage, AuditQuery,
        NewAuditEvent,
    },
    clock::Clock,
    dependency_probe::{DependencyProbe, ProbeError},
    email_renderer::{EmailRenderer, RenderError},
    error::{PortError, error_chain},
    job_queue::{
        ClaimedJob, JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob,
        UnfinishedState,
    },
    notifier::{EmailMessage, EmailSender, SendError, SmsMessage, SmsSender},
    password_hasher::{HashError, PasswordHash, PasswordHasher, Verification},
    rate_limiter::{Decision, Limit, LimitError, RateLimiter, is_per_address_key, per_address_key},
    secret_generator::SecretGenerator,
    session_cache::{CachedSession, SessionCache},
    token_signer::{AccessClaims, SessionId, TokenError, TokenSigner},
    unit_of_work::{Transaction, UnitOfWork},
};
pub use value::{
    email_address::{EmailAddress, EmailAddressError},
    ids::UserId,
    password::{Password, PasswordError},
    phone_number::{PhoneNumber, PhoneNumberError},
    time_ordered_id::time_ordered_id,
    username::{Username, UsernameError},
};
