//! `ListAuditEvents`: the signed-in user's own audit trail, a page at a time, newest first
//! (API.md `GET /api/audit-logs`), and every account's for administrators
//! (`GET /api/admin/audit-logs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use twofa_domain::{AuditEventId, AuditLog, AuditPage, AuditQuery, UserId};

use crate::auth::{Fault, InvalidField, Principal};

/// The longest `action` filter: the audit trail's action names are at most 64 characters.
const MAX_ACTION: usize = 64;

/// What listing the caller's events takes.
#[derive(Debug, Clone)]
pub struct ListAuditEventsInput {
    /// The caller: only events about their account are listed.
    pub principal: Principal,
    /// Only this action (`user.login.failed`, …).
    pub action: Option<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The page size, clamped to 1–200.
    pub limit: u32,
    /// Only events older than this one (a previous page's `nextCursor`).
    pub before: Option<AuditEventId>,
}

/// What an administrator's listing takes: the filters of [`ListAuditEventsInput`] over every
/// account, or over one.
#[derive(Debug, Clone)]
pub struct ListAllAuditEventsInput {
    /// Only events about this account; `None`: every account's, and the service's own.
    pub user_id: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The page size, clamped to 1–200.
    pub limit: u32,
    /// Only events older than this one.
    pub before: Option<AuditEventId>,
}

/// Why a listing was refused.
#[derive(Debug, thiserror::Error)]
pub enum ListAuditEventsError {
    /// A filter is malformed: an empty or overlong `action`, or `until` not after `since`.
    #[error("invalid filters")]
    Invalid(Vec<InvalidField>),
    /// The store failed.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Lists the caller's audit events.
pub struct ListAuditEvents {
    audit: Arc<dyn AuditLog>,
}

impl ListAuditEvents {
    /// The use case over `audit`.
    pub fn new(audit: Arc<dyn AuditLog>) -> Self {
        Self { audit }
    }

    /// At most `limit` events about the caller's account matching the filters, newest first,
    /// with the cursor of the next page when more remain.
    ///
    /// # Errors
    /// `Invalid` for an empty or overlong `action`, or `until` at or before `since`; `Fault`.
    #[tracing::instrument(
        name = "list_audit_events",
        level = "debug",
        skip_all,
        fields(user = %input.principal.user_id)
    )]
    pub async fn execute(
        &self,
        input: ListAuditEventsInput,
    ) -> Result<AuditPage, ListAuditEventsError> {
        self.list(ListAllAuditEventsInput {
            user_id: Some(input.principal.user_id),
            action: input.action,
            since: input.since,
            until: input.until,
            limit: input.limit,
            before: input.before,
        })
        .await
    }

    /// At most `limit` events of any account (or of `user_id`'s) matching the filters, newest
    /// first: the administrators' view. The caller checks the role.
    ///
    /// # Errors
    /// As [`ListAuditEvents::execute`].
    #[tracing::instrument(name = "list_all_audit_events", level = "debug", skip_all)]
    pub async fn execute_all(
        &self,
        input: ListAllAuditEventsInput,
    ) -> Result<AuditPage, ListAuditEventsError> {
        self.list(input).await
    }

    async fn list(
        &self,
        input: ListAllAuditEventsInput,
    ) -> Result<AuditPage, ListAuditEventsError> {
        let mut invalid = Vec::new();
        if let Some(action) = &input.action
            && (action.is_empty() || action.chars().count() > MAX_ACTION)
        {
            invalid.push(InvalidField::new(
                "action",
                "must be an event type of 1 to 64 characters",
            ));
        }
        if let (Some(since), Some(until)) = (input.since, input.until)
            && until <= since
        {
            invalid.push(InvalidField::new("until", "must be after since"));
        }
        if !invalid.is_empty() {
            return Err(ListAuditEventsError::Invalid(invalid));
        }
        let query = AuditQuery {
            user_id: input.user_id,
            action: input.action,
            since: input.since,
            until: input.until,
            limit: input.limit.clamp(1, 200),
            before: input.before,
        };
        Ok(self.audit.query(&query).await.map_err(Fault::from)?)
    }
}
