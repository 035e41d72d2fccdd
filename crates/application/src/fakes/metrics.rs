use std::sync::Mutex;

use crate::ports::{Exposition, MetricEvent, Metrics, PROMETHEUS_TEXT};

/// Metrics that keep every event, for tests to read back.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    events: Mutex<Vec<MetricEvent>>,
}

impl RecordingMetrics {
    /// No event yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<MetricEvent> {
        self.events.lock().expect("lock").clone()
    }

    /// The events so far that `keep` selects.
    pub fn matching(&self, keep: impl Fn(&MetricEvent) -> bool) -> Vec<MetricEvent> {
        self.events().into_iter().filter(|e| keep(e)).collect()
    }

    /// Forgets every event.
    pub fn clear(&self) {
        self.events.lock().expect("lock").clear();
    }
}

impl Metrics for RecordingMetrics {
    fn record(&self, event: MetricEvent) {
        self.events.lock().expect("lock").push(event);
    }

    /// One `Debug` line per event.
    fn expose(&self) -> Exposition {
        let body = self.events().iter().map(|e| format!("{e:?}\n")).collect();
        Exposition { content_type: PROMETHEUS_TEXT, body }
    }
}
