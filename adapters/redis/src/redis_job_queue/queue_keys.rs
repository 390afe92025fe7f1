//! `QueueKeys`: the names of one queue's keys, all in one Redis Cluster slot.

use twofa_domain::JobId;

/// The keys of one queue, under a prefix carrying a `{…}` hash tag: Redis Cluster places a
/// key by its hash tag alone, so every key of the queue (including those a script derives,
/// such as a job's hash) lands in the slot of the keys the script declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueueKeys {
    prefix: String,
}

impl QueueKeys {
    /// Keys under `prefix`. A prefix without a hash tag is put inside one (`twofa:jobs:`
    /// becomes `{twofa:jobs:}`; the empty prefix becomes `{jobs}:`), so that an idempotency
    /// key carrying braces cannot send its key to another slot.
    pub(super) fn new(prefix: String) -> Self {
        let prefix = if has_hash_tag(&prefix) {
            prefix
        } else if prefix.is_empty() {
            "{jobs}:".to_owned()
        } else {
            format!("{{{prefix}}}")
        };
        Self { prefix }
    }

    /// The prefix actually used.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sorted set of pending jobs, scored by `run_at` (ms).
    pub(super) fn due(&self) -> String {
        format!("{}due", self.prefix)
    }

    /// Sorted set of running jobs, scored by `lease_until` (ms).
    pub(super) fn inflight(&self) -> String {
        format!("{}inflight", self.prefix)
    }

    /// Sorted set of done and dead jobs, scored by `finished_at` (ms).
    pub(super) fn finished(&self) -> String {
        format!("{}finished", self.prefix)
    }

    /// Set of dead jobs.
    pub(super) fn dead(&self) -> String {
        format!("{}dead", self.prefix)
    }

    /// The prefix of job hashes, for scripts that find a job by id.
    pub(super) fn job_prefix(&self) -> String {
        format!("{}job:", self.prefix)
    }

    /// A job's hash.
    pub(super) fn job(&self, id: JobId) -> String {
        format!("{}job:{id}", self.prefix)
    }

    /// The prefix of idempotency keys, for the purge script.
    pub(super) fn idempotency_prefix(&self) -> String {
        format!("{}idem:", self.prefix)
    }

    /// The string holding the id of the job that took idempotency key `key`.
    pub(super) fn idempotency(&self, key: &str) -> String {
        format!("{}idem:{key}", self.prefix)
    }
}

/// Whether Redis Cluster would hash `key` by a tag: a `{` followed, later, by a `}` with at
/// least one character between the first `{` and the first `}` after it.
fn has_hash_tag(key: &str) -> bool {
    key.split_once('{')
        .and_then(|(_, rest)| rest.find('}'))
        .is_some_and(|length| length > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_with_a_hash_tag_is_kept_as_it_is() {
        let keys = QueueKeys::new("{twofa}:jobs:".into());
        assert_eq!(keys.due(), "{twofa}:jobs:due");
        assert_eq!(keys.idempotency("a{b}"), "{twofa}:jobs:idem:a{b}");
    }

    #[test]
    fn a_prefix_without_a_hash_tag_is_put_in_one() {
        assert_eq!(
            QueueKeys::new("twofa:jobs:".into()).prefix(),
            "{twofa:jobs:}"
        );
        assert_eq!(QueueKeys::new(String::new()).prefix(), "{jobs}:");
        assert_eq!(QueueKeys::new("a{}b:".into()).prefix(), "{a{}b:}");
        assert_eq!(QueueKeys::new("a}{b".into()).prefix(), "{a}{b}");
    }

    #[test]
    fn an_empty_tag_is_no_tag() {
        assert!(!has_hash_tag("{}x"));
        assert!(!has_hash_tag("x}{"));
        assert!(has_hash_tag("x{y}"));
        assert!(
            !has_hash_tag("{}{y}"),
            "Redis looks at the first braces only"
        );
    }
}
