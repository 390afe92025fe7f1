//! `GetMe`: the signed-in user's account.

use std::sync::Arc;

use twofa_domain::{User, UserRepository};

use super::{CredentialsError, Principal};

/// The caller's account.
pub struct GetMe {
    pub(crate) users: Arc<dyn UserRepository>,
}

impl GetMe {
    /// The caller's account.
    ///
    /// # Errors
    /// `Unauthorized` when it no longer exists; `Fault` from the store.
    #[tracing::instrument(
        name = "get_me",
        level = "debug",
        skip_all,
        fields(user = %principal.user_id)
    )]
    pub async fn execute(&self, principal: &Principal) -> Result<User, CredentialsError> {
        self.users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(CredentialsError::Unauthorized)
    }
}
