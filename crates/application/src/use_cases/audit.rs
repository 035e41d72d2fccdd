//! `GET /api/v1/admin/audit` (SPEC §5.6).

use hub_domain::AuditId;

use crate::App;
use crate::cursor;
use crate::ports::{AuditEntry, AuditFilter};
use crate::use_cases::dlq::{DLQ_DEFAULT_PAGE, DLQ_MAX_PAGE, DlqError, check_range};
use crate::use_cases::notifications::{Page, page_size};

impl App {
    /// Audit entries, newest first, over an opaque cursor.
    pub async fn list_audit(
        &self,
        filter: AuditFilter,
        cursor_text: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<AuditEntry>, DlqError> {
        let limit = page_size(limit, DLQ_DEFAULT_PAGE, DLQ_MAX_PAGE).map_err(DlqError::Validation)?;
        check_range(filter.from, filter.to)?;
        let after = cursor_text.map(|c| cursor::decode(c, AuditId::parse)).transpose()?;
        let rows = self.deps.audit.list(&filter, after, limit + 1).await?;
        Ok(Page::from_overfetch(rows, limit, |e| Some(cursor::encode(e.at, &e.id))))
    }
}
