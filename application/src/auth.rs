//! Accounts and sessions: sign-up, password login, rotating refresh tokens, sign-out, the
//! session list, password change and reset, e-mail verification, and the per-request access
//! token check.
//!
//! One use case per file, each a struct holding only the ports it uses, with one `execute`.
//! Steps several share are small collaborators: [`SessionIssuer`] (start a session, sign its
//! tokens), [`EndedSessions`] (tell the session cache), [`EmailLinks`] (one-time tokens and
//! their mails, for the jobs that mail links: a use case queues such a job, never a link),
//! [`EmailCooldown`], the throttling counters, and the token helpers. A change, its audit
//! event and its jobs commit in one transaction of the [`UnitOfWork`].

mod audit_events;
mod authenticate;
mod change_password;
mod email_cooldown;
mod email_links;
mod ended_sessions;
mod error;
mod forgot_password;
mod get_me;
mod list_sessions;
mod login;
mod logout;
mod refresh_session;
mod register;
mod reset_password;
mod revoke_all_sessions;
mod revoke_session;
mod send_verification_email;
mod session_issuer;
mod signed_in;
#[cfg(test)]
mod tests;
mod throttle;
mod tokens;
mod verify_email;

use std::{sync::Arc, time::Duration};

use twofa_domain::{
    BackupCodeRepository, ChallengeStore, Clock, DeviceRepository, FactorRepository, Limit,
    OneTimeTokenRepository, PasswordHasher, RateLimiter, SecretCipher, SecretGenerator,
    SessionCache, SessionRepository, TokenSigner, UnitOfWork, UserRepository,
};

pub use crate::two_factor::TwoFactorChallenge;
pub use authenticate::Authenticate;
pub use change_password::{ChangePassword, ChangePasswordInput};
pub use email_cooldown::EmailCooldown;
pub use email_links::{EmailLinkPolicy, EmailLinks, LinkMail};
pub use ended_sessions::EndedSessions;
pub use error::{
    CallerError, ChangePasswordError, CredentialsError, EmailTokenError, Fault,
    ForgotPasswordError, InvalidField, LoginError, RegisterError, RevokeSessionError,
    SendVerificationError, Throttled,
};
pub use forgot_password::{ForgotPassword, ForgotPasswordInput};
pub use get_me::GetMe;
pub use list_sessions::{ListSessions, ListSessionsInput, SessionPage};
pub use login::{Login, LoginInput, LoginOutcome};
pub use logout::{Logout, LogoutInput};
pub use refresh_session::{RefreshSession, RefreshSessionInput};
pub use register::{Register, RegisterInput};
pub use reset_password::{ResetPassword, ResetPasswordInput};
pub use revoke_all_sessions::{RevokeAllSessions, RevokeAllSessionsInput};
pub use revoke_session::{RevokeSession, RevokeSessionInput};
pub use send_verification_email::{SendVerificationEmail, SendVerificationEmailInput};
pub use session_issuer::SessionIssuer;
pub use signed_in::{Credential, CutOff, Principal, RequestInfo, SignedIn, TokenPair};
pub use throttle::client_key;
pub use verify_email::{VerifyEmail, VerifyEmailInput};

pub(crate) use audit_events::{commit, user_event};
pub(crate) use error::{faults, hash_failure, overloaded, throttled};
pub(crate) use throttle::{LoginThrottle, hit_per_client};
pub(crate) use tokens::{is_opaque_token, opaque_token};

/// The ports the account and session use cases are built over; each use case takes only
/// the ones it uses.
pub struct AuthPorts {
    /// Accounts (reads outside a transaction).
    pub users: Arc<dyn UserRepository>,
    /// Sessions and refresh tokens (reads outside a transaction).
    pub sessions: Arc<dyn SessionRepository>,
    /// Short-lived answers to "is this session live?".
    pub session_cache: Arc<dyn SessionCache>,
    /// E-mail verification and password reset tokens (reads outside a transaction).
    pub one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    /// Argon2id on a bounded pool.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access tokens.
    pub signer: Arc<dyn TokenSigner>,
    /// Attempt counters.
    pub limiter: Arc<dyn RateLimiter>,
    /// Transactions: every change with its audit events and jobs.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub ids: Arc<dyn SecretGenerator>,
    /// Second factors (reads outside a transaction).
    pub factors: Arc<dyn FactorRepository>,
    /// Backup codes (reads outside a transaction).
    pub backup_codes: Arc<dyn BackupCodeRepository>,
    /// Trusted devices (reads outside a transaction).
    pub devices: Arc<dyn DeviceRepository>,
    /// API keys (reads outside a transaction).
    pub api_keys: Arc<dyn twofa_domain::ApiKeyRepository>,
    /// Login challenges and pending codes.
    pub challenges: Arc<dyn ChallengeStore>,
    /// Stored secrets and keyed digests.
    pub cipher: Arc<dyn SecretCipher>,
}

/// The rate limits of the account flows (`rate_limits.*`).
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    /// Login attempts per client address.
    pub login_per_ip: Limit,
    /// Sign-ups per client address.
    pub register_per_ip: Limit,
    /// Password reset requests per client address.
    pub forgot_per_ip: Limit,
    /// Uses of e-mail verification and reset tokens per client address.
    pub verify_per_ip: Limit,
    /// Failed logins of one account from one address, before the exponential back-off.
    pub failures_per_account_ip: Limit,
    /// Failed logins of one account from all addresses: the hard limit.
    pub failures_per_account: Limit,
    /// Requests of one API key (`api_keys.rate_limit_per_minute` per minute).
    pub per_api_key: Limit,
}

/// The settings the account flows follow.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Access token lifetime (`tokens.access_ttl`).
    pub access_ttl: Duration,
    /// Refresh token lifetime, renewed by each rotation (`tokens.refresh_ttl`).
    pub refresh_ttl: Duration,
    /// How long a rotated refresh token may be presented again (`tokens.refresh_reuse_grace`).
    pub refresh_reuse_grace: Duration,
    /// The e-mail links: their base, lifetimes, and the runs their e-mail jobs get.
    pub links: EmailLinkPolicy,
    /// Wait between two verification (or reset) e-mails to one account (60 seconds).
    pub email_cooldown: Duration,
    /// The rate limits.
    pub limits: AuthLimits,
    /// The second factors' settings.
    pub two_factor: crate::two_factor::TwoFactorPolicy,
}

/// Every account and session use case.
pub struct Accounts {
    /// Sign-up.
    pub register: Register,
    /// Password login.
    pub login: Login,
    /// Refresh token rotation.
    pub refresh: RefreshSession,
    /// Sign-out.
    pub logout: Logout,
    /// The access token check.
    pub authenticate: Authenticate,
    /// The caller's account.
    pub me: GetMe,
    /// The caller's sessions.
    pub list_sessions: ListSessions,
    /// Ends one session.
    pub revoke_session: RevokeSession,
    /// Ends every session.
    pub revoke_all_sessions: RevokeAllSessions,
    /// Password change.
    pub change_password: ChangePassword,
    /// Reset link request.
    pub forgot_password: ForgotPassword,
    /// Reset through a link.
    pub reset_password: ResetPassword,
    /// A new verification link.
    pub send_verification: SendVerificationEmail,
    /// Verification through a link.
    pub verify_email: VerifyEmail,
}

impl Accounts {
    /// Every use case over `ports`, following `policy`; each gets only what it uses.
    pub fn new(ports: &AuthPorts, policy: &AuthPolicy) -> Self {
        let built = Parts { ports, policy };
        Self {
            register: built.register(),
            login: built.login(),
            refresh: RefreshSession {
                unit_of_work: ports.unit_of_work.clone(),
                issuer: built.issuer(),
                ended: built.ended(),
                grace: policy.refresh_reuse_grace,
            },
            logout: Logout {
                unit_of_work: ports.unit_of_work.clone(),
                clock: ports.clock.clone(),
                ended: built.ended(),
                grace: policy.refresh_reuse_grace,
            },
            authenticate: Authenticate {
                sessions: ports.sessions.clone(),
                session_cache: ports.session_cache.clone(),
                signer: ports.signer.clone(),
                clock: ports.clock.clone(),
                access_ttl: policy.access_ttl,
            },
            me: GetMe {
                users: ports.users.clone(),
            },
            list_sessions: ListSessions {
                sessions: ports.sessions.clone(),
            },
            revoke_session: RevokeSession {
                unit_of_work: ports.unit_of_work.clone(),
                ended: built.ended(),
            },
            revoke_all_sessions: RevokeAllSessions {
                unit_of_work: ports.unit_of_work.clone(),
                ended: built.ended(),
            },
            change_password: ChangePassword {
                users: ports.users.clone(),
                hasher: ports.hasher.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                ended: built.ended(),
                throttle: built.throttle(),
            },
            forgot_password: ForgotPassword {
                limiter: ports.limiter.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                cooldown: built.cooldown(),
                limit: policy.limits.forgot_per_ip,
                email_max_attempts: policy.links.email_max_attempts,
            },
            reset_password: built.reset_password(),
            send_verification: SendVerificationEmail {
                users: ports.users.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                cooldown: built.cooldown(),
                email_max_attempts: policy.links.email_max_attempts,
            },
            verify_email: VerifyEmail {
                limiter: ports.limiter.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                limit: policy.limits.verify_per_ip,
            },
        }
    }
}

/// The ports and the policy, and the collaborators built over them.
pub(crate) struct Parts<'a> {
    pub(crate) ports: &'a AuthPorts,
    pub(crate) policy: &'a AuthPolicy,
}

impl Parts<'_> {
    pub(crate) fn issuer(&self) -> SessionIssuer {
        SessionIssuer::new(
            self.ports.signer.clone(),
            self.ports.clock.clone(),
            self.ports.ids.clone(),
            self.policy.access_ttl,
            self.policy.refresh_ttl,
        )
    }

    fn ended(&self) -> EndedSessions {
        EndedSessions::new(self.ports.session_cache.clone(), self.policy.access_ttl)
    }

    fn cooldown(&self) -> EmailCooldown {
        EmailCooldown::new(self.ports.limiter.clone(), self.policy.email_cooldown)
    }

    pub(crate) fn throttle(&self) -> LoginThrottle {
        LoginThrottle::new(
            self.ports.limiter.clone(),
            self.policy.limits.failures_per_account_ip,
            self.policy.limits.failures_per_account,
        )
    }

    fn register(&self) -> Register {
        Register {
            limiter: self.ports.limiter.clone(),
            hasher: self.ports.hasher.clone(),
            unit_of_work: self.ports.unit_of_work.clone(),
            ids: self.ports.ids.clone(),
            issuer: self.issuer(),
            cooldown: self.cooldown(),
            limit: self.policy.limits.register_per_ip,
            email_max_attempts: self.policy.links.email_max_attempts,
        }
    }

    fn login(&self) -> Login {
        Login {
            users: self.ports.users.clone(),
            hasher: self.ports.hasher.clone(),
            unit_of_work: self.ports.unit_of_work.clone(),
            issuer: self.issuer(),
            throttle: self.throttle(),
            limit: self.policy.limits.login_per_ip,
            second_step: crate::two_factor::Collaborators::new(self.ports, &self.policy.two_factor)
                .challenges,
        }
    }

    fn reset_password(&self) -> ResetPassword {
        ResetPassword {
            one_time_tokens: self.ports.one_time_tokens.clone(),
            hasher: self.ports.hasher.clone(),
            limiter: self.ports.limiter.clone(),
            unit_of_work: self.ports.unit_of_work.clone(),
            ended: self.ended(),
            throttle: self.throttle(),
            limit: self.policy.limits.verify_per_ip,
        }
    }
}
