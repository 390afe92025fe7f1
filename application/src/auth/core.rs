//! `AuthCore`: the ports and the policy every account and session use case shares, and the
//! steps several of them take (start a session, sign an access token, end sessions, record
//! audit events and jobs in one transaction).

use std::{net::IpAddr, sync::Arc, time::Duration};

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest as _, Sha256};
use twofa_domain::{
    AccessClaims, Actor, ActorKind, AuditDetails, Clock, Limit, NewAuditEvent, NewJob, NewSession,
    OneTimeTokenHash, OneTimeTokenRepository, PasswordHasher, RateLimiter, RefreshTokenHash,
    SecretGenerator, Session, SessionCache, SessionId, SessionRepository, TokenPurpose,
    TokenSigner, UnitOfWork, User, UserId, UserRepository,
};

use super::{
    AuthError, Throttled,
    email_links::{EmailLinkPolicy, EmailLinks},
};

/// The bytes of every opaque token (refresh tokens, e-mail links): 256 bits.
const OPAQUE_TOKEN_BYTES: usize = 32;
/// Their text length: unpadded base64url of 32 bytes.
const OPAQUE_TOKEN_LEN: usize = 43;

/// How long a session check's answer is cached. Revocations replace it at once; this bounds
/// only how long an answer can outlive an invalidation that could not reach the cache.
const LIVE_ANSWER_TTL: Duration = Duration::from_secs(30);

/// The ports the account and session use cases are written against.
pub struct AuthPorts {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Sessions and refresh tokens.
    pub sessions: Arc<dyn SessionRepository>,
    /// Short-lived answers to "is this session live?".
    pub session_cache: Arc<dyn SessionCache>,
    /// E-mail verification and password reset tokens.
    pub one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    /// Argon2id on a bounded pool.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access tokens.
    pub signer: Arc<dyn TokenSigner>,
    /// Attempt counters.
    pub limiter: Arc<dyn RateLimiter>,
    /// Audit events and jobs, committed together.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub ids: Arc<dyn SecretGenerator>,
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
}

/// Where a request came from, for rate limits, sessions and the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The client address, as `server.trusted_proxies` computes it.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// Who an access token speaks for, once its session is known to be live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// The session (`sid`).
    pub session_id: SessionId,
    /// How the user authenticated.
    pub amr: Vec<String>,
}

/// An access token and a refresh token of one session.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access JWT.
    pub access_token: String,
    /// The opaque refresh token (shown once; stored only as a hash).
    pub refresh_token: String,
    /// The access token's lifetime in whole seconds.
    pub expires_in: u64,
    /// The session both belong to.
    pub session_id: SessionId,
}

impl std::fmt::Debug for TokenPair {
    /// The tokens are secrets: only the session and the lifetime are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// A signed-in user: the account and a new token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// Its tokens.
    pub tokens: TokenPair,
}

/// The ports and policy shared by the account use cases.
pub struct AuthCore {
    pub(crate) ports: AuthPorts,
    pub(crate) policy: AuthPolicy,
    links: EmailLinks,
}

impl AuthCore {
    /// The shared core over `ports`, following `policy`.
    pub fn new(ports: AuthPorts, policy: AuthPolicy) -> Self {
        let links = EmailLinks::new(
            ports.one_time_tokens.clone(),
            ports.clock.clone(),
            ports.ids.clone(),
            policy.links.clone(),
        );
        Self {
            ports,
            policy,
            links,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// `now + duration`, saturating far in the future.
    pub(crate) fn after(&self, duration: Duration) -> DateTime<Utc> {
        let delta = TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX);
        self.now()
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// A new opaque 256-bit token, as unpadded base64url.
    pub(crate) fn opaque_token(&self) -> String {
        opaque_token(self.ports.ids.as_ref())
    }

    /// Starts a session for `user` and issues its first token pair.
    pub(crate) async fn start_session(
        &self,
        user: &User,
        amr: Vec<String>,
        request: &RequestInfo,
    ) -> Result<TokenPair, AuthError> {
        let refresh_token = self.opaque_token();
        let new = NewSession {
            id: SessionId::from_uuid(self.ports.ids.uuid_v4()),
            user_id: user.id,
            amr,
            ip: request.ip,
            user_agent: request.user_agent.clone(),
            expires_at: self.after(self.policy.refresh_ttl),
        };
        let session = self
            .ports
            .sessions
            .create(new, refresh_hash(&refresh_token))
            .await?;
        self.token_pair(&session, refresh_token)
    }

    /// A new access token for `session`, paired with `refresh_token`.
    pub(crate) fn token_pair(
        &self,
        session: &Session,
        refresh_token: String,
    ) -> Result<TokenPair, AuthError> {
        let issued_at = self.now();
        let claims = AccessClaims {
            subject: session.user_id,
            session: session.id,
            amr: session.amr.clone(),
            issued_at,
            expires_at: self.after(self.policy.access_ttl),
            token_id: self.ports.ids.uuid_v4().to_string(),
        };
        Ok(TokenPair {
            access_token: self.ports.signer.sign(&claims)?,
            refresh_token,
            expires_in: self.policy.access_ttl.as_secs(),
            session_id: session.id,
        })
    }

    /// Tells the session cache that `ids` ended, so their access tokens fail from the next
    /// request. A cache that cannot be reached is logged, not fatal: the session repository
    /// already says the sessions ended, and cached answers expire within seconds.
    pub(crate) async fn forget_sessions(&self, ids: impl IntoIterator<Item = SessionId>) {
        let ttl = self.policy.access_ttl + Duration::from_secs(5);
        for id in ids {
            if let Err(error) = self.ports.session_cache.end(id, ttl).await {
                tracing::warn!(session = %id, error = %twofa_domain::error_chain(&error), "could not mark a session ended in the cache");
            }
        }
    }

    /// Ends every active session of `user` but `except`, in the repository and the cache;
    /// how many ended.
    pub(crate) async fn end_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, AuthError> {
        let ended = self.ports.sessions.revoke_all(user, except).await?;
        let count = u64::try_from(ended.len()).unwrap_or(u64::MAX);
        self.forget_sessions(ended).await;
        Ok(count)
    }

    /// The live-answer time to live for a session expiring at `expires_at`.
    pub(crate) fn live_answer_ttl(&self, expires_at: DateTime<Utc>) -> Duration {
        (expires_at - self.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(LIVE_ANSWER_TTL)
    }

    /// Issues a one-time e-mail token for `user` and the job that mails its link.
    pub(crate) async fn email_link(
        &self,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<NewJob, AuthError> {
        self.links.issue(user, purpose).await
    }

    fn cooldown(&self, kind: &str, subject: &str) -> (String, Limit) {
        let limit = Limit {
            max: 1,
            window: self.policy.email_cooldown,
        };
        (format!("cooldown:{kind}:{subject}"), limit)
    }

    /// Refused while the cooldown of e-mails of `kind` to `subject` (an account, an address)
    /// runs.
    pub(crate) async fn email_cooldown_check(
        &self,
        kind: &str,
        subject: &str,
    ) -> Result<(), AuthError> {
        let (key, limit) = self.cooldown(kind, subject);
        match self.ports.limiter.check(&key, limit).await? {
            twofa_domain::Decision::Allowed { .. } => Ok(()),
            twofa_domain::Decision::Limited { retry_after } => {
                Err(AuthError::RateLimited(Throttled {
                    limit: 1,
                    retry_after,
                }))
            }
        }
    }

    /// Starts the cooldown of e-mails of `kind` to `subject` (once the e-mail is on its way).
    pub(crate) async fn email_cooldown_start(
        &self,
        kind: &str,
        subject: &str,
    ) -> Result<(), AuthError> {
        let (key, limit) = self.cooldown(kind, subject);
        self.ports.limiter.hit(&key, limit).await?;
        Ok(())
    }

    /// Records `events` and enqueues `jobs` in one transaction.
    pub(crate) async fn record(
        &self,
        events: Vec<NewAuditEvent>,
        jobs: Vec<NewJob>,
    ) -> Result<(), AuthError> {
        let mut transaction = self.ports.unit_of_work.begin().await?;
        for job in jobs {
            transaction.enqueue(job).await?;
        }
        for event in events {
            transaction.audit(event).await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// An audit event of `action` about `user` (acting on their own account), from `request`.
pub(crate) fn user_event(
    action: &str,
    user: Option<UserId>,
    success: bool,
    request: &RequestInfo,
    details: serde_json::Value,
) -> NewAuditEvent {
    let actor = user.map_or(
        Actor {
            kind: ActorKind::User,
            id: None,
        },
        Actor::user,
    );
    NewAuditEvent {
        user_id: user,
        ip: request.ip,
        user_agent: request.user_agent.clone(),
        details: AuditDetails::new(details),
        ..NewAuditEvent::new(action, actor, success)
    }
}

/// A new opaque 256-bit token, as unpadded base64url.
pub(crate) fn opaque_token(ids: &dyn SecretGenerator) -> String {
    let mut bytes = [0_u8; OPAQUE_TOKEN_BYTES];
    ids.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` has the shape of an opaque token (43 base64url characters), so a malformed
/// one is refused without a lookup.
pub(crate) fn is_opaque_token(token: &str) -> bool {
    token.len() == OPAQUE_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a refresh token.
pub(crate) fn refresh_hash(token: &str) -> RefreshTokenHash {
    RefreshTokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// The stored form of an e-mail link's token.
pub(crate) fn one_time_hash(token: &str) -> OneTimeTokenHash {
    OneTimeTokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}
