//! `SessionIssuer`: starts sessions inside a transaction and signs their access tokens; the
//! step register, login (and the second factors after it) and refresh share.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use twofa_domain::{
    AccessClaims, Clock, NewSession, SecretGenerator, Session, SessionId, TokenSigner, Transaction,
    User,
};

use super::{
    Fault, RequestInfo, TokenPair,
    tokens::{opaque_token, refresh_hash},
};

/// Issues sessions and their token pairs.
pub struct SessionIssuer {
    signer: Arc<dyn TokenSigner>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl SessionIssuer {
    /// Signs with `signer`; access tokens live `access_ttl`, refresh tokens `refresh_ttl`
    /// (renewed by each rotation).
    pub fn new(
        signer: Arc<dyn TokenSigner>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            signer,
            clock,
            ids,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Starts a session for `user` in `transaction` (it exists once that commits) and issues
    /// its first token pair.
    pub(crate) async fn start(
        &self,
        transaction: &dyn Transaction,
        user: &User,
        amr: Vec<String>,
        request: &RequestInfo,
    ) -> Result<TokenPair, Fault> {
        let refresh_token = self.refresh_token();
        let new = NewSession {
            id: SessionId::from_uuid(self.ids.uuid_v4()),
            user_id: user.id,
            amr,
            ip: request.ip,
            user_agent: request.user_agent.clone(),
            expires_at: self.refresh_expiry(),
        };
        let session = transaction
            .sessions()
            .create(new, refresh_hash(&refresh_token))
            .await?;
        self.token_pair(&session, refresh_token)
    }

    /// A new opaque refresh token.
    pub(crate) fn refresh_token(&self) -> String {
        opaque_token(self.ids.as_ref())
    }

    /// When a refresh token issued now expires.
    pub(crate) fn refresh_expiry(&self) -> DateTime<Utc> {
        self.clock.after(self.refresh_ttl)
    }

    /// A new access token for `session`, paired with `refresh_token`.
    pub(crate) fn token_pair(
        &self,
        session: &Session,
        refresh_token: String,
    ) -> Result<TokenPair, Fault> {
        let claims = AccessClaims {
            subject: session.user_id,
            session: session.id,
            amr: session.amr.clone(),
            issued_at: self.clock.now(),
            expires_at: self.clock.after(self.access_ttl),
            token_id: self.ids.uuid_v4().to_string(),
        };
        Ok(TokenPair {
            access_token: self.signer.sign(&claims)?,
            refresh_token,
            expires_in: self.access_ttl.as_secs(),
            session_id: session.id,
        })
    }
}
