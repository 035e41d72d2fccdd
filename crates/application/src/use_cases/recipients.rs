//! Recipients, preferences (SPEC §5.2) and devices (SPEC §5.4).

use std::collections::BTreeMap;

use hub_domain::preferences::{KindPreference, Preferences};
use hub_domain::recipient::parse_contacts;
use hub_domain::time_window::DailyWindow;
use hub_domain::{
    Channel, Device, DeviceId, DeviceToken, Kind, Locale, Platform, Recipient, RecipientError, RecipientId,
    SlackTarget, Timezone,
};

use crate::App;
use crate::error::{ErrorCode, PortError};
use crate::ports::{DeviceRegistration, PutOutcome, RecipientRecord};

/// `PUT /api/v1/recipients/{id}`.
#[derive(Debug, Clone)]
pub struct PutRecipient {
    /// The id from the path.
    pub id: RecipientId,
    /// `channels: [{type, address}]` as given.
    pub channels: Vec<(Channel, Option<String>)>,
    /// `locale` (default from config).
    pub locale: Option<String>,
    /// `timezone` (default from config).
    pub timezone: Option<String>,
}

/// One kind's entry of a preference document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindPreferenceInput {
    /// `allowed` (absent = allowed).
    pub allowed: Option<bool>,
    /// `channels` allow list (empty = all channels).
    pub channels: Vec<Channel>,
}

/// `PUT /api/v1/recipients/{id}/preferences`: the full document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutPreferences {
    /// Per-kind settings; kinds not listed get the defaults.
    pub kinds: BTreeMap<Kind, KindPreferenceInput>,
    /// `quietHours`: absent → the default 22:00–08:00; `null` → none; `{start, end}` as `HH:MM`.
    pub quiet_hours: Option<Option<(String, String)>>,
}

/// Errors of the recipient, preference and device use cases.
#[derive(Debug, thiserror::Error)]
pub enum RecipientUseCaseError {
    /// A field is invalid (400); the message names it.
    #[error("{field}: {message}")]
    Validation {
        /// The field (`timezone`, `channels[1].address`…).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Opting out of SECURITY or TRANSACTIONAL (400).
    #[error("{0} notifications are mandatory and cannot be opted out of")]
    MandatoryKind(Kind),
    /// Unknown recipient (404).
    #[error("recipient {0} does not exist")]
    NotFound(RecipientId),
    /// Unknown device of that recipient (404).
    #[error("device {0} does not exist for this recipient")]
    DeviceNotFound(DeviceId),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl RecipientUseCaseError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            RecipientUseCaseError::Validation { .. } => ErrorCode::ValidationFailed,
            RecipientUseCaseError::MandatoryKind(_) => ErrorCode::MandatoryKind,
            RecipientUseCaseError::NotFound(_) => ErrorCode::RecipientNotFound,
            RecipientUseCaseError::DeviceNotFound(_) => ErrorCode::NotFound,
            RecipientUseCaseError::Port(e) => e.code(),
        }
    }

    fn field(field: impl Into<String>, message: impl ToString) -> Self {
        RecipientUseCaseError::Validation { field: field.into(), message: message.to_string() }
    }
}

fn recipient_error(e: RecipientError) -> RecipientUseCaseError {
    let field = match &e {
        RecipientError::InvalidId => "id".to_owned(),
        RecipientError::InvalidLocale => "locale".to_owned(),
        RecipientError::InvalidTimezone => "timezone".to_owned(),
        RecipientError::InvalidAddress { index, .. } => format!("channels[{index}].address"),
        RecipientError::DuplicateChannel { index, .. } => format!("channels[{index}].type"),
        RecipientError::InvalidDeviceToken => "token".to_owned(),
    };
    let message = match &e {
        RecipientError::InvalidAddress { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    RecipientUseCaseError::Validation { field, message }
}

impl App {
    /// Creates or replaces a recipient's profile.
    pub async fn put_recipient(
        &self,
        cmd: PutRecipient,
    ) -> Result<(PutOutcome, RecipientRecord), RecipientUseCaseError> {
        let contacts =
            parse_contacts(cmd.channels.iter().map(|(c, a)| (*c, a.as_deref()))).map_err(recipient_error)?;
        for (index, contact) in contacts.iter().enumerate() {
            if let Some(hub_domain::Address::Slack(SlackTarget::Alias(alias))) = &contact.address {
                if !self.settings.slack_aliases.iter().any(|a| a == alias) {
                    let position =
                        cmd.channels.iter().position(|(c, _)| *c == Channel::Slack).unwrap_or(index);
                    return Err(RecipientUseCaseError::field(
                        format!("channels[{position}].address"),
                        format!("`{alias}` is not a configured Slack alias"),
                    ));
                }
            }
        }
        let locale = match &cmd.locale {
            Some(l) => Locale::parse(l).map_err(recipient_error)?,
            None => self.settings.default_locale.clone(),
        };
        let timezone = match &cmd.timezone {
            Some(t) => Timezone::parse(t).map_err(recipient_error)?,
            None => self.settings.default_timezone,
        };
        let recipient = Recipient { id: cmd.id.clone(), contacts, locale, timezone, devices: Vec::new() };
        let outcome = self.deps.recipients.put(&recipient, self.now()).await?;
        let stored =
            self.deps.recipients.get(&cmd.id).await?.ok_or(RecipientUseCaseError::NotFound(cmd.id))?;
        Ok((outcome, stored))
    }

    /// A recipient with its devices and preferences.
    pub async fn get_recipient(&self, id: &RecipientId) -> Result<RecipientRecord, RecipientUseCaseError> {
        self.deps.recipients.get(id).await?.ok_or_else(|| RecipientUseCaseError::NotFound(id.clone()))
    }

    /// Erases a recipient's addresses, devices and preferences; delivery history stays, masked.
    pub async fn delete_recipient(&self, id: &RecipientId) -> Result<(), RecipientUseCaseError> {
        if self.deps.recipients.erase(id, self.now()).await? {
            Ok(())
        } else {
            Err(RecipientUseCaseError::NotFound(id.clone()))
        }
    }

    /// The full stored preference document (defaults when never set).
    pub async fn get_preferences(&self, id: &RecipientId) -> Result<Preferences, RecipientUseCaseError> {
        Ok(self.get_recipient(id).await?.preferences.unwrap_or_default())
    }

    /// Replaces the preference document. Opting out of a mandatory kind → `MandatoryKind`;
    /// a bad or empty (`start == end`) quiet-hours window → `Validation` naming the field.
    pub async fn put_preferences(
        &self,
        id: &RecipientId,
        cmd: PutPreferences,
    ) -> Result<Preferences, RecipientUseCaseError> {
        let quiet_hours = match cmd.quiet_hours {
            None => Some(Preferences::default_quiet_hours()),
            Some(None) => None,
            Some(Some((start, end))) => {
                let start = DailyWindow::parse_time(&start)
                    .map_err(|e| RecipientUseCaseError::field("quietHours.start", e))?;
                let end = DailyWindow::parse_time(&end)
                    .map_err(|e| RecipientUseCaseError::field("quietHours.end", e))?;
                Some(
                    DailyWindow::new(start, end)
                        .map_err(|e| RecipientUseCaseError::field("quietHours", e))?,
                )
            }
        };
        let kinds = cmd
            .kinds
            .into_iter()
            .map(|(kind, input)| {
                let preference = KindPreference {
                    allowed: input.allowed.unwrap_or(true),
                    channels: input.channels.into_iter().collect(),
                };
                (kind, preference)
            })
            .collect();
        let preferences = Preferences::new(kinds, quiet_hours).map_err(preferences_error)?;
        if self.deps.recipients.put_preferences(id, &preferences, self.now()).await? {
            Ok(preferences)
        } else {
            Err(RecipientUseCaseError::NotFound(id.clone()))
        }
    }

    /// Registers a push device (201 when new, 200 when known or moved).
    pub async fn register_device(
        &self,
        recipient: &RecipientId,
        platform: Platform,
        token: &str,
    ) -> Result<DeviceRegistration, RecipientUseCaseError> {
        let token = DeviceToken::parse(token).map_err(recipient_error)?;
        self.get_recipient(recipient).await?;
        let (ms, bits) = self.id_parts();
        let registration = self
            .deps
            .devices
            .register(recipient, platform, &token, DeviceId::from_parts(ms, bits), self.now())
            .await?;
        Ok(registration)
    }

    /// The recipient's devices.
    pub async fn list_devices(&self, recipient: &RecipientId) -> Result<Vec<Device>, RecipientUseCaseError> {
        self.get_recipient(recipient).await?;
        Ok(self.deps.devices.list(recipient).await?)
    }

    /// Disables one of the recipient's devices.
    pub async fn disable_device(
        &self,
        recipient: &RecipientId,
        id: DeviceId,
    ) -> Result<(), RecipientUseCaseError> {
        self.get_recipient(recipient).await?;
        if self.deps.devices.disable(recipient, id).await? {
            Ok(())
        } else {
            Err(RecipientUseCaseError::DeviceNotFound(id))
        }
    }
}

fn preferences_error(e: hub_domain::preferences::PreferencesError) -> RecipientUseCaseError {
    match e {
        hub_domain::preferences::PreferencesError::MandatoryKind(kind) => {
            RecipientUseCaseError::MandatoryKind(kind)
        }
    }
}
