//! `GET /api/v1/notifications/{id}`, the listing with its cursor, and cancel (SPEC §5.1).

use chrono::{DateTime, Utc};
use hub_domain::NotificationId;
use hub_domain::delivery::DeliveryStatus;
use hub_domain::status::{DeliverySummary, NotificationStatus, derive_status};

use crate::App;
use crate::cursor::{self, InvalidCursor};
use crate::error::{ErrorCode, PortError};
use crate::ports::{
    DeliveryRecord, MetricEvent, NotificationCursor, NotificationFilter, NotificationWithDeliveries,
};

/// Default page size of listings.
pub const DEFAULT_PAGE: usize = 20;
/// Largest page size of the notification listing.
pub const MAX_PAGE: usize = 100;

/// A notification with its derived status.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationView {
    /// The stored notification and deliveries.
    pub stored: NotificationWithDeliveries,
    /// Derived status (never stored).
    pub status: NotificationStatus,
}

/// A page of results with the cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows read from a store: the extra row only says that
    /// another page exists, and the cursor points after the last row kept.
    pub(crate) fn from_overfetch(
        mut rows: Vec<T>,
        limit: usize,
        cursor_of: impl Fn(&T) -> Option<String>,
    ) -> Self {
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().and_then(cursor_of)
        } else {
            None
        };
        Page { items: rows, next_cursor }
    }
}

/// `GET /api/v1/notifications` parameters.
#[derive(Debug, Clone, Default)]
pub struct ListNotifications {
    /// Store-side filters.
    pub filter: NotificationFilter,
    /// Only notifications whose derived status is this.
    pub status: Option<NotificationStatus>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 20).
    pub limit: Option<usize>,
}

/// Errors of the notification read and cancel use cases.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// No such notification (404).
    #[error("notification {0} does not exist")]
    NotFound(NotificationId),
    /// A bad parameter (400).
    #[error("{0}")]
    Validation(String),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl NotificationError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            NotificationError::NotFound(_) => ErrorCode::NotificationNotFound,
            NotificationError::Validation(_) => ErrorCode::ValidationFailed,
            NotificationError::Port(e) => e.code(),
        }
    }
}

impl From<InvalidCursor> for NotificationError {
    fn from(e: InvalidCursor) -> Self {
        NotificationError::Validation(format!("cursor: {e}"))
    }
}

/// The result of a cancel.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    /// Deliveries moved to CANCELLED by this call.
    pub cancelled: usize,
    /// The notification afterwards.
    pub view: NotificationView,
}

pub(crate) fn derive(deliveries: &[DeliveryRecord], now: DateTime<Utc>) -> NotificationStatus {
    let summaries: Vec<DeliverySummary> = deliveries.iter().map(|d| DeliverySummary::from(d.state)).collect();
    derive_status(&summaries, now)
}

/// Validates a page size against `max`.
pub(crate) fn page_size(limit: Option<usize>, default: usize, max: usize) -> Result<usize, String> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("limit: must be between 1 and {max}")),
    }
}

impl App {
    /// One notification with its deliveries, tries and derived status.
    pub async fn get_notification(&self, id: NotificationId) -> Result<NotificationView, NotificationError> {
        let stored = self.deps.notifications.get(id).await?.ok_or(NotificationError::NotFound(id))?;
        let status = derive(&stored.deliveries, self.now());
        Ok(NotificationView { stored, status })
    }

    /// Notifications newest first, over an opaque `(createdAt, id)` cursor.
    pub async fn list_notifications(
        &self,
        query: ListNotifications,
    ) -> Result<Page<NotificationView>, NotificationError> {
        let limit = page_size(query.limit, DEFAULT_PAGE, MAX_PAGE).map_err(NotificationError::Validation)?;
        if let (Some(from), Some(to)) = (query.filter.from, query.filter.to) {
            if from >= to {
                return Err(NotificationError::Validation("from: must be before to".into()));
            }
        }
        let mut after = match &query.cursor {
            Some(c) => {
                let (created_at, id) = cursor::decode(c, NotificationId::parse)?;
                Some(NotificationCursor { created_at, id })
            }
            None => None,
        };
        let now = self.now();
        let mut items = Vec::with_capacity(limit);
        // The status is derived, so a status filter is applied here; keep reading store pages
        // until this page is full or the store has no more.
        loop {
            let batch = self.deps.notifications.list(&query.filter, after, limit + 1).await?;
            let exhausted = batch.len() <= limit;
            for stored in batch {
                after = Some(NotificationCursor {
                    created_at: stored.notification.created_at,
                    id: stored.notification.id,
                });
                let status = derive(&stored.deliveries, now);
                if query.status.is_none_or(|s| s == status) {
                    items.push(NotificationView { stored, status });
                    if items.len() == limit + 1 {
                        break;
                    }
                }
            }
            if items.len() > limit || exhausted {
                break;
            }
        }
        Ok(Page::from_overfetch(items, limit, |v| {
            Some(cursor::encode(v.stored.notification.created_at, &v.stored.notification.id))
        }))
    }

    /// Cancels the deliveries of a notification that were not dispatched yet.
    pub async fn cancel_notification(&self, id: NotificationId) -> Result<Cancelled, NotificationError> {
        let now = self.now();
        let cancelled =
            self.deps.deliveries.cancel_pending(id, now).await?.ok_or(NotificationError::NotFound(id))?;
        let view = self.get_notification(id).await?;
        // The store stamps the deliveries it cancelled with `now` (the port's contract); at most
        // `cancelled` of them are this call's (an earlier cancel may share the instant).
        let this_call = view
            .stored
            .deliveries
            .iter()
            .filter(|d| d.state.status == DeliveryStatus::Cancelled && d.updated_at == now)
            .take(cancelled);
        for delivery in this_call {
            self.record(MetricEvent::DeliveryFinal {
                channel: delivery.channel,
                status: DeliveryStatus::Cancelled,
            });
        }
        Ok(Cancelled { cancelled, view })
    }
}
