//! Mapping that both SQL stores share because their schemas share the columns: a delivery's
//! target as the `target_*` columns and back. Backend-specific parts (timestamps, id lists,
//! row types) stay in `sqlite/rows.rs` and `postgres/rows.rs`.

use std::fmt::Display;

use hub_application::error::PortError;
use hub_domain::address::{EmailAddress, SlackTarget};
use hub_domain::{Address, DeviceId, E164, Target};

/// A row that does not map back to the domain.
pub(crate) fn corrupt(table: &str, detail: impl Display) -> PortError {
    PortError::Unexpected(anyhow::anyhow!("corrupt row in {table}: {detail}"))
}

/// A delivery's target split into its columns.
#[derive(Debug, Default)]
pub(crate) struct TargetColumns {
    pub(crate) kind: &'static str,
    pub(crate) address: Option<String>,
    pub(crate) device_id: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) masked: Option<String>,
}

/// The `target_*` columns of one stored delivery, as read.
#[derive(Debug)]
pub(crate) struct StoredTarget<'a> {
    /// Table, for error messages.
    pub(crate) table: &'a str,
    /// The delivery id, for error messages.
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) address: Option<&'a str>,
    pub(crate) device_id: Option<&'a str>,
    pub(crate) token: Option<&'a str>,
    pub(crate) masked: Option<&'a str>,
}

impl TargetColumns {
    /// The columns of `target`.
    pub(crate) fn of(target: &Target) -> Self {
        let address =
            |kind, text: &str| TargetColumns { kind, address: Some(text.to_owned()), ..Default::default() };
        match target {
            Target::Address(a @ Address::Email(_)) => address("EMAIL", a.as_str()),
            Target::Address(a @ Address::Phone(_)) => address("PHONE", a.as_str()),
            Target::Address(a @ Address::Slack(_)) => address("SLACK", a.as_str()),
            Target::Device { id, token } => TargetColumns {
                kind: "DEVICE",
                device_id: Some(id.to_string()),
                token: Some(token.clone()),
                ..Default::default()
            },
            Target::Inbox => TargetColumns { kind: "INBOX", ..Default::default() },
            Target::Erased { masked } => {
                TargetColumns { kind: "ERASED", masked: Some(masked.clone()), ..Default::default() }
            }
        }
    }
}

impl StoredTarget<'_> {
    /// The target back; a missing or unparsable column is `Unexpected`.
    pub(crate) fn read(&self) -> Result<Target, PortError> {
        let (table, id) = (self.table, self.id);
        let missing = |column: &str| corrupt(table, format_args!("{id} has no {column}"));
        let address = || self.address.ok_or_else(|| missing("target_address"));
        let bad = |e: hub_domain::AddressError| corrupt(table, format_args!("{id}: target: {e}"));
        Ok(match self.kind {
            "EMAIL" => Target::Address(Address::Email(EmailAddress::parse(address()?).map_err(bad)?)),
            "PHONE" => Target::Address(Address::Phone(E164::parse(address()?).map_err(bad)?)),
            "SLACK" => Target::Address(Address::Slack(SlackTarget::parse(address()?).map_err(bad)?)),
            "DEVICE" => {
                let device = self.device_id.ok_or_else(|| missing("target_device_id"))?;
                Target::Device {
                    id: device
                        .parse::<DeviceId>()
                        .map_err(|e| corrupt(table, format_args!("target_device_id = {device:?}: {e}")))?,
                    token: self.token.ok_or_else(|| missing("target_token"))?.to_owned(),
                }
            }
            "INBOX" => Target::Inbox,
            "ERASED" => {
                Target::Erased { masked: self.masked.ok_or_else(|| missing("target_masked"))?.to_owned() }
            }
            other => return Err(corrupt(table, format_args!("{id}: target_kind {other:?}"))),
        })
    }
}
