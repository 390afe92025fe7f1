//! `RecordingSmsSender` and `RecordingEmailSender`: senders that keep what they were asked to
//! send, and fail on demand, for tests to assert on.

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
};

use async_trait::async_trait;
use twofa_domain::{EmailMessage, EmailSender, SendError, SmsMessage, SmsSender};

/// What a recording sender keeps, and the failures it was told to answer with.
struct Recording<M> {
    sent: Mutex<Vec<M>>,
    failures: Mutex<VecDeque<SendError>>,
}

impl<M: Clone> Recording<M> {
    fn new() -> Self {
        Self {
            sent: Mutex::new(Vec::new()),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    fn send(&self, message: &M) -> Result<(), SendError> {
        if let Some(failure) = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
        {
            return Err(failure);
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }

    fn sent(&self) -> Vec<M> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fail_next(&self, error: SendError) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(error);
    }
}

/// Keeps every SMS; answers queued failures first.
pub struct RecordingSmsSender(Recording<SmsMessage>);

impl RecordingSmsSender {
    /// Records, sends nothing.
    pub fn new() -> Self {
        Self(Recording::new())
    }

    /// The messages sent so far.
    pub fn sent(&self) -> Vec<SmsMessage> {
        self.0.sent()
    }

    /// The next send answers `error` (and sends nothing).
    pub fn fail_next(&self, error: SendError) {
        self.0.fail_next(error);
    }
}

impl Default for RecordingSmsSender {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SmsSender for RecordingSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        self.0.send(message)
    }
}

/// Keeps every e-mail; answers queued failures first.
pub struct RecordingEmailSender(Recording<EmailMessage>);

impl RecordingEmailSender {
    /// Records, sends nothing.
    pub fn new() -> Self {
        Self(Recording::new())
    }

    /// The messages sent so far.
    pub fn sent(&self) -> Vec<EmailMessage> {
        self.0.sent()
    }

    /// The next send answers `error` (and sends nothing).
    pub fn fail_next(&self, error: SendError) {
        self.0.fail_next(error);
    }
}

impl Default for RecordingEmailSender {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EmailSender for RecordingEmailSender {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        self.0.send(message)
    }
}
