use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{ChannelSender, DispatchRequest, SendError, SendErrorKind, VendorReceipt};

/// A scripted vendor answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptedOutcome {
    /// Accepted with this vendor message id.
    Accept(String),
    /// Transient failure, with an optional Retry-After.
    Transient(Option<Duration>),
    /// Permanent failure.
    Permanent,
    /// Unregistered push token.
    Unregistered,
}

/// Records every request; answers from a script, else by the target like the mock vendors of
/// SPEC §9 (`fail-transient`, `fail-once` (first try only), `fail-permanent`, `unregistered` in
/// the address; anything else is accepted).
#[derive(Debug, Default)]
pub struct RecordingSender {
    script: Mutex<VecDeque<ScriptedOutcome>>,
    requests: Mutex<Vec<DispatchRequest>>,
}

impl RecordingSender {
    /// No script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues answers used before the address rules.
    pub fn script(&self, outcomes: impl IntoIterator<Item = ScriptedOutcome>) {
        self.script.lock().expect("lock").extend(outcomes);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<DispatchRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

fn failure(kind: SendErrorKind, code: &str) -> SendError {
    SendError { kind, code: Some(code.to_owned()), detail: format!("scripted {code}") }
}

#[async_trait]
impl ChannelSender for RecordingSender {
    async fn send(&self, request: &DispatchRequest) -> Result<VendorReceipt, SendError> {
        self.requests.lock().expect("lock").push(request.clone());
        let scripted = self.script.lock().expect("lock").pop_front();
        let outcome = scripted.unwrap_or_else(|| {
            let target = request.target.as_str();
            if target.contains("fail-transient") || (target.contains("fail-once") && request.attempt == 1) {
                ScriptedOutcome::Transient(None)
            } else if target.contains("fail-permanent") {
                ScriptedOutcome::Permanent
            } else if target.contains("unregistered") {
                ScriptedOutcome::Unregistered
            } else {
                ScriptedOutcome::Accept(format!("fake-{}", request.delivery_id))
            }
        });
        match outcome {
            ScriptedOutcome::Accept(id) => Ok(VendorReceipt { vendor_message_id: Some(id) }),
            ScriptedOutcome::Transient(retry_after) => {
                Err(failure(SendErrorKind::Transient { retry_after }, "TRANSIENT"))
            }
            ScriptedOutcome::Permanent => Err(failure(SendErrorKind::Permanent, "PERMANENT")),
            ScriptedOutcome::Unregistered => Err(failure(SendErrorKind::Unregistered, "UNREGISTERED")),
        }
    }
}
