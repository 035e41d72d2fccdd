//! Recipients, locales, timezones and push devices (SPEC §3, §5.2, §5.4).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::address::{Address, AddressError, mask};
use crate::channel::Channel;
use crate::ids::DeviceId;
use crate::kind::named_enum;

/// Why a recipient field was rejected; each variant names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    /// `id` is empty, longer than 128 characters, or has whitespace, control characters or `/`.
    #[error("recipient id must be 1-128 characters without whitespace, control characters or '/'")]
    InvalidId,
    /// `locale` is not a BCP-47 tag.
    #[error("locale must be a BCP-47 tag such as `en` or `ko-kr`")]
    InvalidLocale,
    /// `timezone` is not an IANA zone name.
    #[error("timezone must be an IANA zone name such as `Asia/Seoul`")]
    InvalidTimezone,
    /// An address in `channels[index]` is invalid for its channel.
    #[error("channels[{index}]: {source}")]
    InvalidAddress {
        /// Position in the request's channel list.
        index: usize,
        /// What was wrong.
        source: AddressError,
    },
    /// The same channel is listed twice.
    #[error("channels[{index}]: channel {channel} is listed more than once")]
    DuplicateChannel {
        /// Position of the second occurrence.
        index: usize,
        /// The repeated channel.
        channel: Channel,
    },
    /// A device token is not 32–4096 visible characters.
    #[error("token must be 32-4096 characters without whitespace")]
    InvalidDeviceToken,
}

/// A recipient id: 1–128 characters, no whitespace, control characters or `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RecipientId(String);

impl RecipientId {
    /// Parses a recipient id.
    pub fn parse(s: &str) -> Result<Self, RecipientError> {
        let n = s.chars().count();
        if (1..=128).contains(&n) && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
            Ok(Self(s.to_owned()))
        } else {
            Err(RecipientError::InvalidId)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecipientId({})", self.0)
    }
}

impl fmt::Display for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BCP-47 language tag, stored lower-case (`en`, `ko-kr`, `zh-hant-tw`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Locale(String);

impl Locale {
    /// Parses a tag: a 2–3 letter language, then subtags of 1–8 letters or digits;
    /// `_` is accepted as a separator and the result is lower-case with `-`.
    pub fn parse(s: &str) -> Result<Self, RecipientError> {
        let normalized = s.trim().replace('_', "-").to_ascii_lowercase();
        let mut parts = normalized.split('-');
        let language = parts.next().unwrap_or("");
        let language_ok =
            (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok =
            parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if language_ok && rest_ok && normalized.len() <= 35 {
            Ok(Self(normalized))
        } else {
            Err(RecipientError::InvalidLocale)
        }
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`en` for `en-us`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timezone(Tz);

impl Timezone {
    /// Parses an IANA name such as `Asia/Seoul` (case-sensitive, as in the tz database).
    pub fn parse(s: &str) -> Result<Self, RecipientError> {
        Tz::from_str(s).map(Self).map_err(|_| RecipientError::InvalidTimezone)
    }

    /// Wraps a chrono-tz zone.
    pub const fn new(tz: Tz) -> Self {
        Self(tz)
    }

    /// The chrono-tz zone.
    pub const fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Timezone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One entry of a recipient's channel list: PUSH and IN_APP have no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The channel.
    pub channel: Channel,
    /// The address; `None` exactly for PUSH and IN_APP.
    pub address: Option<Address>,
}

impl Contact {
    /// Parses one `{type, address}` entry.
    pub fn parse(channel: Channel, address: Option<&str>) -> Result<Self, AddressError> {
        match (Address::required_for(channel), address) {
            (true, Some(text)) => Ok(Contact { channel, address: Some(Address::parse(channel, text)?) }),
            (true, None) => Err(AddressError::AddressRequired(channel)),
            (false, None) => Ok(Contact { channel, address: None }),
            (false, Some(_)) => Err(AddressError::AddressNotAccepted(channel)),
        }
    }
}

/// Parses a recipient's channel list, rejecting invalid addresses and repeated channels.
pub fn parse_contacts<'a, I>(entries: I) -> Result<Vec<Contact>, RecipientError>
where
    I: IntoIterator<Item = (Channel, Option<&'a str>)>,
{
    let mut contacts: Vec<Contact> = Vec::new();
    for (index, (channel, address)) in entries.into_iter().enumerate() {
        if contacts.iter().any(|c| c.channel == channel) {
            return Err(RecipientError::DuplicateChannel { index, channel });
        }
        let contact = Contact::parse(channel, address)
            .map_err(|source| RecipientError::InvalidAddress { index, source })?;
        contacts.push(contact);
    }
    contacts.sort_by_key(|c| c.channel);
    Ok(contacts)
}

named_enum!(
    /// The platform of a push device.
    Platform {
        /// Firebase Cloud Messaging.
        Android => "ANDROID",
        /// Apple Push Notification service.
        Ios => "IOS",
        /// Web Push.
        Web => "WEB",
    }
);

/// A push token: 32–4096 characters without whitespace or control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeviceToken(String);

impl DeviceToken {
    /// Parses a token.
    pub fn parse(s: &str) -> Result<Self, RecipientError> {
        let n = s.chars().count();
        if (32..=4096).contains(&n) && !s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(RecipientError::InvalidDeviceToken)
        }
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({})", mask(&self.0))
    }
}

/// A registered push device of a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// ANDROID, IOS or WEB.
    pub platform: Platform,
    /// The vendor token.
    pub token: DeviceToken,
    /// Disabled devices get no deliveries.
    pub active: bool,
    /// When it was (last) registered; the oldest active one is disabled past the limit.
    pub registered_at: DateTime<Utc>,
}

/// At most this many devices of one recipient are active at once (SPEC §5.4).
pub const MAX_ACTIVE_DEVICES: usize = 10;

/// Which active devices must be disabled so that at most [`MAX_ACTIVE_DEVICES`] stay active:
/// the oldest registrations go first.
pub fn devices_over_limit(devices: &[Device]) -> Vec<DeviceId> {
    let mut active: Vec<&Device> = devices.iter().filter(|d| d.active).collect();
    if active.len() <= MAX_ACTIVE_DEVICES {
        return Vec::new();
    }
    active.sort_by_key(|d| (d.registered_at, d.id));
    let excess = active.len() - MAX_ACTIVE_DEVICES;
    active.iter().take(excess).map(|d| d.id).collect()
}

/// A recipient as the resolver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Its id.
    pub id: RecipientId,
    /// Its channel list, one entry per channel, in canonical order.
    pub contacts: Vec<Contact>,
    /// Preferred locale.
    pub locale: Locale,
    /// Timezone for quiet hours.
    pub timezone: Timezone,
    /// Registered push devices (active and disabled).
    pub devices: Vec<Device>,
}

impl Recipient {
    /// The contact entry for a channel, if listed.
    pub fn contact(&self, channel: Channel) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.channel == channel)
    }

    /// The address listed for a channel, if any.
    pub fn address(&self, channel: Channel) -> Option<&Address> {
        self.contact(channel).and_then(|c| c.address.as_ref())
    }

    /// Active devices, oldest registration first.
    pub fn active_devices(&self) -> Vec<&Device> {
        let mut active: Vec<&Device> = self.devices.iter().filter(|d| d.active).collect();
        active.sort_by_key(|d| (d.registered_at, d.id));
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recipient_id_length_and_characters_are_checked() {
        assert!(RecipientId::parse("user-42").is_ok());
        assert!(RecipientId::parse(&"x".repeat(128)).is_ok());
        for bad in ["", "a b", "a/b", "tab\t"] {
            assert_eq!(RecipientId::parse(bad), Err(RecipientError::InvalidId), "{bad:?}");
        }
        assert_eq!(RecipientId::parse(&"x".repeat(129)), Err(RecipientError::InvalidId));
    }

    #[test]
    fn locales_are_lower_cased_and_expose_their_language() {
        let l = Locale::parse("en-US").unwrap();
        assert_eq!(l.as_str(), "en-us");
        assert_eq!(l.language(), "en");
        assert_eq!(Locale::parse("ko_KR").unwrap().as_str(), "ko-kr");
        for bad in ["", "e", "english", "en-", "en--us", "12"] {
            assert_eq!(Locale::parse(bad), Err(RecipientError::InvalidLocale), "{bad}");
        }
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(Timezone::parse("Asia/Seoul").unwrap().name(), "Asia/Seoul");
        assert_eq!(Timezone::parse("Mars/Olympus"), Err(RecipientError::InvalidTimezone));
    }

    #[test]
    fn contacts_need_addresses_exactly_where_the_channel_takes_one() {
        let ok = parse_contacts([
            (Channel::Sms, Some("+821012345678")),
            (Channel::Push, None),
            (Channel::InApp, None),
        ])
        .unwrap();
        assert_eq!(
            ok.iter().map(|c| c.channel).collect::<Vec<_>>(),
            vec![Channel::Push, Channel::Sms, Channel::InApp]
        );
        assert_eq!(
            parse_contacts([(Channel::Email, None)]),
            Err(RecipientError::InvalidAddress {
                index: 0,
                source: AddressError::AddressRequired(Channel::Email)
            })
        );
        assert_eq!(
            parse_contacts([(Channel::InApp, None), (Channel::Push, Some("tok"))]),
            Err(RecipientError::InvalidAddress {
                index: 1,
                source: AddressError::AddressNotAccepted(Channel::Push)
            })
        );
        assert_eq!(
            parse_contacts([(Channel::InApp, None), (Channel::InApp, None)]),
            Err(RecipientError::DuplicateChannel { index: 1, channel: Channel::InApp })
        );
    }

    #[test]
    fn device_tokens_are_32_to_4096_characters() {
        assert!(DeviceToken::parse(&"a".repeat(32)).is_ok());
        assert!(DeviceToken::parse(&"a".repeat(4096)).is_ok());
        assert!(DeviceToken::parse(&"a".repeat(31)).is_err());
        assert!(DeviceToken::parse(&"a".repeat(4097)).is_err());
        assert!(DeviceToken::parse(&format!("{} x", "a".repeat(40))).is_err());
    }

    fn device(n: u64, active: bool) -> Device {
        Device {
            id: DeviceId::from_parts(n, u128::from(n)),
            platform: Platform::Android,
            token: DeviceToken::parse(&format!("{n:0>40}")).unwrap(),
            active,
            registered_at: Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap(),
        }
    }

    #[test]
    fn the_oldest_active_devices_are_disabled_past_ten() {
        let mut devices: Vec<Device> = (0..12).map(|n| device(n, true)).collect();
        devices.push(device(100, false));
        let over = devices_over_limit(&devices);
        assert_eq!(over, vec![devices[0].id, devices[1].id]);
        assert!(devices_over_limit(&devices[..10]).is_empty());
    }
}
