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

pub use entity::api_key::{
    API_KEY_NAME_LIMIT, ApiKey, ApiKeyChange, NewApiKey, Scope, normalized_scopes, parse_scopes,
    scopes_text,
};
pub use entity::factor::{Destination, Factor, FactorKind, NewFactor};
pub use entity::session::{NewSession, RefreshTokenHash, SESSION_USER_AGENT_LIMIT, Session};
pub use entity::trusted_device::{DEVICE_NAME_LIMIT, NewTrustedDevice, TrustedDevice};
pub use entity::user::{NewUser, Role, User};
pub use entity::webhook::{
    ALL_EVENTS, AttemptOutcome, DeliveryAttempt, DeliveryStatus, NewWebhookDelivery,
    NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint, WebhookEndpointChange,
};
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
    api_key_repository::ApiKeyRepository,
    audit_log::{
        Actor, ActorKind, AuditDetails, AuditEvent, AuditEventId, AuditLog, AuditPage, AuditQuery,
        NewAuditEvent,
    },
    backup_code_repository::BackupCodeRepository,
    challenge_store::{ChallengeStore, StoredEntry},
    clock::Clock,
    dependency_probe::{DependencyProbe, ProbeError},
    device_repository::DeviceRepository,
    email_renderer::{EmailRenderer, RenderError},
    error::{PortError, error_chain},
    factor_repository::FactorRepository,
    job_queue::{
        ClaimedJob, JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob,
        UnfinishedState,
    },
    notifier::{EmailMessage, EmailSender, SendError, SmsMessage, SmsSender},
    password_hasher::{HashError, PasswordHash, PasswordHasher, Verification},
    rate_limiter::{Decision, Limit, LimitError, RateLimiter, is_per_address_key, per_address_key},
    secret_cipher::{CipherError, SealedSecret, SecretCipher},
    secret_generator::SecretGenerator,
    session_cache::{CachedSession, SessionCache},
    token_signer::{AccessClaims, SessionId, TokenError, TokenSigner},
    unit_of_work::{Transaction, UnitOfWork},
    webhook_repository::{DELIVERY_LIST_MAX_LIMIT, WebhookRepository, clamp_delivery_list_limit},
    webhook_sender::{
        RESPONSE_BODY_LIMIT, WebhookRequest, WebhookResponse, WebhookSendError, WebhookSender,
    },
};
pub use value::{
    api_key_token::{API_KEY_LENGTH, API_KEY_PREFIX, ApiKeyToken},
    backup_code::{
        BACKUP_CODE_COUNT, BACKUP_CODE_LENGTH, BACKUP_CODES_LOW, BackupCode, BackupCodeError,
    },
    email_address::{EmailAddress, EmailAddressError},
    ids::{ApiKeyId, DeviceId, FactorId, UserId, WebhookDeliveryId, WebhookEndpointId},
    otp_code::{OTP_CODE_DIGITS, OtpCode},
    password::{Password, PasswordError},
    phone_number::{PhoneNumber, PhoneNumberError},
    secret_digest::SecretDigest,
    time_ordered_id::time_ordered_id,
    totp::{TOTP_SECRET_BYTES, TotpAlgorithm, TotpPolicy, TotpSecret, base32, hotp},
    username::{Username, UsernameError},
};
