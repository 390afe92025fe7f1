//! Accounts and sessions: sign-up, password login, rotating refresh tokens, sign-out, the
//! session list, password change and reset, e-mail verification, and the per-request access
//! token check. Every use case shares one [`AuthCore`] (ports and policy).

mod account;
mod authenticate;
mod core;
mod email_links;
mod email_verification;
mod error;
mod login;
mod logout;
mod password_reset;
mod refresh_session;
mod register;
mod sessions;
#[cfg(test)]
mod tests;
mod throttle;

use std::sync::Arc;

pub use self::core::{
    AuthCore, AuthLimits, AuthPolicy, AuthPorts, Principal, RequestInfo, SignedIn, TokenPair,
};
pub use account::{ChangePassword, ChangePasswordInput, GetMe};
pub use authenticate::Authenticate;
pub use email_links::{EmailLinkPolicy, EmailLinks};
pub use email_verification::{SendVerificationEmail, VerifyEmail};
pub use error::{AuthError, InvalidField, Throttled};
pub use login::{Login, LoginInput, LoginOutcome, TwoFactorChallenge};
pub use logout::Logout;
pub use password_reset::{
    ForgotPassword, MAIL_PASSWORD_RESET, MailPasswordReset, MailPasswordResetPayload, ResetPassword,
};
pub use refresh_session::RefreshSession;
pub use register::{Register, RegisterInput};
pub use sessions::{ListSessions, RevokeAllSessions, RevokeSession, SessionPage};
pub use throttle::client_key;

/// Every account and session use case, built over one core.
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
    /// Every use case over `core`.
    pub fn new(core: &Arc<AuthCore>) -> Self {
        Self {
            register: Register::new(core.clone()),
            login: Login::new(core.clone()),
            refresh: RefreshSession::new(core.clone()),
            logout: Logout::new(core.clone()),
            authenticate: Authenticate::new(core.clone()),
            me: GetMe::new(core.clone()),
            list_sessions: ListSessions::new(core.clone()),
            revoke_session: RevokeSession::new(core.clone()),
            revoke_all_sessions: RevokeAllSessions::new(core.clone()),
            change_password: ChangePassword::new(core.clone()),
            forgot_password: ForgotPassword::new(core.clone()),
            reset_password: ResetPassword::new(core.clone()),
            send_verification: SendVerificationEmail::new(core.clone()),
            verify_email: VerifyEmail::new(core.clone()),
        }
    }
}
