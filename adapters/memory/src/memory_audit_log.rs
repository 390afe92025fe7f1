//! `MemoryAuditLog`: the `AuditLog` port in process memory.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use twofa_domain::{
    AuditEvent, AuditEventId, AuditLog, AuditPage, AuditQuery, Clock, NewAuditEvent, PortError,
    SecretGenerator, time_ordered_id,
};

/// Events in a vector, oldest first.
pub struct MemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl MemoryAuditLog {
    /// An empty trail.
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<dyn SecretGenerator>) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            clock,
            ids,
        }
    }
}

/// Keeps at most this many characters of a `User-Agent`, as the SQL adapter does.
pub const USER_AGENT_LIMIT: usize = 512;

/// Applies the limits every adapter applies to an event before storing it.
pub fn clamp_event(mut event: NewAuditEvent) -> NewAuditEvent {
    if let Some(agent) = &mut event.user_agent
        && let Some((cut, _)) = agent.char_indices().nth(USER_AGENT_LIMIT)
    {
        agent.truncate(cut);
    }
    event
}

#[async_trait]
impl AuditLog for MemoryAuditLog {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditEventId, PortError> {
        let created_at = self.clock.now();
        let id = AuditEventId::from_uuid(time_ordered_id(created_at, self.ids.as_ref()));
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(AuditEvent {
                id,
                event: clamp_event(event),
                created_at,
            });
        Ok(id)
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, PortError> {
        let limit = usize::try_from(query.limit.clamp(1, 200)).unwrap_or(200);
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let mut matching: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| query.user_id.is_none() || e.event.user_id == query.user_id)
            .filter(|e| query.action.as_ref().is_none_or(|a| &e.event.action == a))
            .filter(|e| query.since.is_none_or(|since| e.created_at >= since))
            .filter(|e| query.until.is_none_or(|until| e.created_at < until))
            .filter(|e| query.before.is_none_or(|before| e.id < before))
            .collect();
        matching.sort_by_key(|e| std::cmp::Reverse(e.id));
        let has_more = matching.len() > limit;
        let items: Vec<AuditEvent> = matching.into_iter().take(limit).cloned().collect();
        let next_cursor = if has_more {
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }
}
