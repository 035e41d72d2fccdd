//! Recipients, preferences (SPEC §5.2) and devices (SPEC §5.4).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_application::ports::RecipientRecord;
use hub_application::use_cases::recipients::{KindPreferenceInput, PutPreferences, PutRecipient};
use hub_domain::preferences::Preferences;
use hub_domain::{Device, Kind, RecipientId, mask};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::enums as wire;
use super::formats;
use crate::http::error::ApiError;

/// One entry of a recipient's channel list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ContactRequest {
    /// The channel.
    #[serde(rename = "type")]
    channel: wire::Channel,
    /// The address; required for EMAIL, SMS, KAKAO_ALIMTALK and SLACK, absent for PUSH and IN_APP.
    address: Option<String>,
}

/// `PUT /api/v1/recipients/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PutRecipientRequest {
    /// The channel list, one entry per channel.
    channels: Vec<ContactRequest>,
    /// BCP-47 locale (default from configuration).
    #[schema(value_type = Option<formats::Locale>)]
    locale: Option<String>,
    /// IANA timezone (default from configuration).
    #[schema(example = "Asia/Seoul")]
    timezone: Option<String>,
}

impl PutRecipientRequest {
    /// The use-case command.
    pub(crate) fn into_command(self, id: RecipientId) -> PutRecipient {
        PutRecipient {
            id,
            channels: self.channels.into_iter().map(|c| (c.channel.into(), c.address)).collect(),
            locale: self.locale,
            timezone: self.timezone,
        }
    }
}

/// One entry of a stored channel list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Contact)]
pub(crate) struct ContactDto {
    /// The channel.
    #[serde(rename = "type")]
    channel: wire::Channel,
    /// The address as stored, or null for PUSH and IN_APP.
    address: Option<String>,
}

/// A registered push device.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Device)]
pub(crate) struct DeviceDto {
    /// Its id (`dev_…`).
    device_id: String,
    /// The platform.
    platform: wire::Platform,
    /// The token, masked.
    token: String,
    /// Disabled devices get no deliveries.
    active: bool,
    /// When it was (last) registered.
    registered_at: DateTime<Utc>,
}

impl From<&Device> for DeviceDto {
    fn from(d: &Device) -> Self {
        DeviceDto {
            device_id: d.id.to_string(),
            platform: d.platform.into(),
            token: mask(d.token.as_str()),
            active: d.active,
            registered_at: d.registered_at,
        }
    }
}

/// The recipient's devices, oldest registration first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeviceList)]
pub(crate) struct DeviceListDto {
    /// The devices, active and disabled.
    items: Vec<DeviceDto>,
}

impl DeviceListDto {
    /// Wraps a list.
    pub(crate) fn new(devices: &[Device]) -> Self {
        DeviceListDto { items: devices.iter().map(Into::into).collect() }
    }
}

/// A stored recipient.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Recipient)]
pub(crate) struct RecipientDto {
    /// Its id.
    recipient_id: String,
    /// The channel list, in canonical order.
    channels: Vec<ContactDto>,
    /// Locale.
    locale: String,
    /// Timezone.
    timezone: String,
    /// Registered devices, active and disabled.
    devices: Vec<DeviceDto>,
    /// First creation.
    created_at: DateTime<Utc>,
    /// Last change of the profile.
    updated_at: DateTime<Utc>,
}

impl From<&RecipientRecord> for RecipientDto {
    fn from(r: &RecipientRecord) -> Self {
        let recipient = &r.recipient;
        RecipientDto {
            recipient_id: recipient.id.to_string(),
            channels: recipient
                .contacts
                .iter()
                .map(|c| ContactDto {
                    channel: c.channel.into(),
                    address: c.address.as_ref().map(|a| a.as_str().to_owned()),
                })
                .collect(),
            locale: recipient.locale.to_string(),
            timezone: recipient.timezone.to_string(),
            devices: recipient.devices.iter().map(Into::into).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Quiet hours in the recipient's timezone, `[start, end)`, wrapping midnight when start > end.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = QuietHours)]
pub(crate) struct QuietHoursDto {
    /// `HH:MM`.
    #[schema(example = "22:00")]
    start: String,
    /// `HH:MM`.
    #[schema(example = "08:00")]
    end: String,
}

/// One kind's preferences in a request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KindPreferenceRequest {
    /// Absent = allowed; only optional kinds (SERVICE, MARKETING) may be `false`.
    allowed: Option<bool>,
    /// Allow list; absent or empty = every channel.
    channels: Option<Vec<wire::Channel>>,
}

/// `PUT /api/v1/recipients/{id}/preferences`: the full document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PreferencesRequest {
    /// Per kind; kinds not listed get the defaults.
    // Keys are parsed by hand so that an error inside an entry names it (`kinds.SERVICE.channels[0]`).
    #[serde(default)]
    #[schema(value_type = BTreeMap<wire::Kind, KindPreferenceRequest>)]
    kinds: BTreeMap<String, KindPreferenceRequest>,
    /// Absent = the default 22:00–08:00; null = none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<QuietHoursDto>)]
    quiet_hours: Option<Option<QuietHoursDto>>,
}

/// Tells a `null` member (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl PreferencesRequest {
    /// The use-case command; an unknown kind is 400 naming `kinds.NAME`.
    pub(crate) fn try_into_command(self) -> Result<PutPreferences, ApiError> {
        let mut kinds = BTreeMap::new();
        for (name, p) in self.kinds {
            let kind: Kind = name.parse().map_err(|e| ApiError::validation(format!("kinds.{name}"), e))?;
            let channels = p.channels.unwrap_or_default().into_iter().map(Into::into).collect();
            kinds.insert(kind, KindPreferenceInput { allowed: p.allowed, channels });
        }
        Ok(PutPreferences { kinds, quiet_hours: self.quiet_hours.map(|q| q.map(|w| (w.start, w.end))) })
    }
}

/// One kind's stored preferences.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KindPreference)]
pub(crate) struct KindPreferenceDto {
    /// Whether the kind is wanted.
    allowed: bool,
    /// Allow list; empty = every channel.
    channels: Vec<wire::Channel>,
}

/// The stored preference document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Preferences)]
pub(crate) struct PreferencesDto {
    /// Per kind, as stored; kinds not listed are allowed on every channel.
    kinds: BTreeMap<wire::Kind, KindPreferenceDto>,
    /// Quiet hours, or null for none.
    quiet_hours: Option<QuietHoursDto>,
}

impl From<&Preferences> for PreferencesDto {
    fn from(p: &Preferences) -> Self {
        PreferencesDto {
            kinds: p
                .kinds()
                .iter()
                .map(|(kind, k)| {
                    let dto = KindPreferenceDto {
                        allowed: k.allowed,
                        channels: k.channels.iter().map(Into::into).collect(),
                    };
                    ((*kind).into(), dto)
                })
                .collect(),
            quiet_hours: p.quiet_hours().map(|w| QuietHoursDto {
                start: w.start().format("%H:%M").to_string(),
                end: w.end().format("%H:%M").to_string(),
            }),
        }
    }
}

/// `POST /api/v1/recipients/{id}/devices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RegisterDeviceRequest {
    /// The platform.
    pub(crate) platform: wire::Platform,
    /// The vendor token, 32–4096 characters.
    #[schema(value_type = formats::DeviceToken)]
    pub(crate) token: String,
}
