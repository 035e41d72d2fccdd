//! The mock vendors' answer rule: a pure function of the target and the try number.

use hub_application::ports::{DispatchRequest, SendError, SendErrorKind};

/// What a mock vendor answers for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockOutcome {
    /// Accepted.
    Accept,
    /// Transient failure (no `Retry-After`).
    Transient,
    /// Permanent failure.
    Permanent,
    /// Unregistered push token.
    Unregistered,
}

impl MockOutcome {
    /// The answer for `request`: decided by markers in its target and, for `fail-once`, by
    /// whether this is the first try. Stateless, so every replica and every restart agrees.
    pub fn for_request(request: &DispatchRequest) -> Self {
        Self::decide(request.target.as_str(), request.attempt)
    }

    /// The answer for a raw target text on try `attempt` (1 for the first).
    pub fn decide(target: &str, attempt: u32) -> Self {
        if target.contains("fail-transient") {
            MockOutcome::Transient
        } else if target.contains("fail-once") && attempt == 1 {
            // Later tries fall through to the other markers, so `fail-once` composes.
            MockOutcome::Transient
        } else if target.contains("fail-permanent") {
            MockOutcome::Permanent
        } else if target.contains("unregistered") {
            MockOutcome::Unregistered
        } else {
            MockOutcome::Accept
        }
    }

    /// The error a vendor would report for a failing outcome (`None` for [`MockOutcome::Accept`]).
    /// The detail never includes the target.
    pub fn error(self) -> Option<SendError> {
        let (kind, code, detail) = match self {
            MockOutcome::Accept => return None,
            MockOutcome::Transient => (
                SendErrorKind::Transient { retry_after: None },
                "MOCK_TRANSIENT",
                "mock vendor: temporary failure (target marked fail-transient or fail-once)",
            ),
            MockOutcome::Permanent => (
                SendErrorKind::Permanent,
                "MOCK_PERMANENT",
                "mock vendor: rejected (target marked fail-permanent)",
            ),
            MockOutcome::Unregistered => (
                SendErrorKind::Unregistered,
                "MOCK_UNREGISTERED",
                "mock vendor: device token no longer registered (target marked unregistered)",
            ),
        };
        Some(SendError { kind, code: Some(code.to_owned()), detail: detail.to_owned() })
    }

    /// A short label for logs and metrics (`accepted`, `transient`, `permanent`, `unregistered`).
    pub const fn label(self) -> &'static str {
        match self {
            MockOutcome::Accept => "accepted",
            MockOutcome::Transient => "transient",
            MockOutcome::Permanent => "permanent",
            MockOutcome::Unregistered => "unregistered",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_marker_decides_the_outcome_on_every_try() {
        let cases = [
            ("user+fail-transient@example.com", 1, MockOutcome::Transient),
            ("user+fail-transient@example.com", 6, MockOutcome::Transient),
            ("user+fail-permanent@example.com", 1, MockOutcome::Permanent),
            ("user+fail-permanent@example.com", 3, MockOutcome::Permanent),
            ("tok-unregistered-1", 1, MockOutcome::Unregistered),
            ("user@example.com", 1, MockOutcome::Accept),
            ("+821012345678", 2, MockOutcome::Accept),
            ("inbox", 1, MockOutcome::Accept),
        ];
        for (target, attempt, expected) in cases {
            assert_eq!(MockOutcome::decide(target, attempt), expected, "{target} on try {attempt}");
        }
    }

    #[test]
    fn fail_once_fails_exactly_on_the_first_try() {
        assert_eq!(MockOutcome::decide("a+fail-once@example.com", 1), MockOutcome::Transient);
        for attempt in 2..=6 {
            assert_eq!(MockOutcome::decide("a+fail-once@example.com", attempt), MockOutcome::Accept);
        }
    }

    #[test]
    fn markers_are_checked_in_the_documented_order() {
        assert_eq!(MockOutcome::decide("fail-transient-fail-permanent", 2), MockOutcome::Transient);
        assert_eq!(MockOutcome::decide("fail-once-unregistered", 1), MockOutcome::Transient);
        assert_eq!(MockOutcome::decide("fail-once-unregistered", 2), MockOutcome::Unregistered);
        assert_eq!(MockOutcome::decide("fail-permanent-unregistered", 1), MockOutcome::Permanent);
    }

    #[test]
    fn failures_carry_the_matching_kind_and_no_target() {
        assert_eq!(MockOutcome::Accept.error(), None);
        let transient = MockOutcome::Transient.error().expect("an error");
        assert_eq!(transient.kind, SendErrorKind::Transient { retry_after: None });
        assert_eq!(MockOutcome::Permanent.error().expect("an error").kind, SendErrorKind::Permanent);
        let unregistered = MockOutcome::Unregistered.error().expect("an error");
        assert_eq!(unregistered.kind, SendErrorKind::Unregistered);
        assert_eq!(unregistered.code.as_deref(), Some("MOCK_UNREGISTERED"));
        assert!(!unregistered.detail.contains('@'));
    }
}
