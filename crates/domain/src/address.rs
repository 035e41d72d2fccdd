//! Channel addresses: parsing per channel and masking (SPEC §3).

use std::fmt;

use crate::channel::Channel;
use crate::ids::DeviceId;

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not a syntactically valid e-mail address.
    #[error("not a valid e-mail address")]
    InvalidEmail,
    /// Not an E.164 number (`+` then 8–15 digits).
    #[error("not an E.164 phone number (expected `+` followed by 8 to 15 digits)")]
    InvalidPhone,
    /// Neither an `https://` webhook URL nor an alias.
    #[error("not an https:// Slack webhook URL or alias")]
    InvalidSlackTarget,
    /// The channel takes no address (PUSH uses devices, IN_APP the inbox).
    #[error("channel {0} takes no address")]
    AddressNotAccepted(Channel),
    /// The channel needs an address and none was given.
    #[error("channel {0} needs an address")]
    AddressRequired(Channel),
}

/// A syntactically valid e-mail address; the domain part is lower-cased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses `local@domain` (RFC 5321 lengths, dot-atom local part, LDH domain labels).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let (local, domain) = s.rsplit_once('@').ok_or(AddressError::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok && s.len() <= 254 {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(AddressError::InvalidEmail)
        }
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` followed by 8–15 digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// Parses `^\+\d{8,15}$`.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let digits = s.strip_prefix('+').ok_or(AddressError::InvalidPhone)?;
        if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(AddressError::InvalidPhone)
        }
    }

    /// The number text, with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a Slack message goes: an incoming-webhook URL or a configured alias.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SlackTarget {
    /// An `https://` incoming-webhook URL.
    Webhook(String),
    /// A name configured by the operator (e.g. `ops`), resolved to a URL by the sender.
    Alias(String),
}

impl SlackTarget {
    /// Parses an `https://host/...` URL or an alias `^[a-z][a-z0-9_-]{0,63}$`.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if let Some(rest) = s.strip_prefix("https://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let valid = !host.is_empty()
                && s.len() <= 2048
                && !s.chars().any(|c| c.is_whitespace() || c.is_control());
            return if valid {
                Ok(SlackTarget::Webhook(s.to_owned()))
            } else {
                Err(AddressError::InvalidSlackTarget)
            };
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && s.len() <= 64 {
            Ok(SlackTarget::Alias(s.to_owned()))
        } else {
            Err(AddressError::InvalidSlackTarget)
        }
    }

    /// The URL or alias text.
    pub fn as_str(&self) -> &str {
        match self {
            SlackTarget::Webhook(s) | SlackTarget::Alias(s) => s,
        }
    }
}

/// An address for one of the channels that take one (EMAIL, SMS, KAKAO_ALIMTALK, SLACK).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// For EMAIL.
    Email(EmailAddress),
    /// For SMS and KAKAO_ALIMTALK.
    Phone(E164),
    /// For SLACK.
    Slack(SlackTarget),
}

impl Address {
    /// Parses an address by the rules of `channel`.
    pub fn parse(channel: Channel, s: &str) -> Result<Self, AddressError> {
        match channel {
            Channel::Email => EmailAddress::parse(s).map(Address::Email),
            Channel::Sms | Channel::KakaoAlimtalk => E164::parse(s).map(Address::Phone),
            Channel::Slack => SlackTarget::parse(s).map(Address::Slack),
            Channel::Push | Channel::InApp => Err(AddressError::AddressNotAccepted(channel)),
        }
    }

    /// Whether `channel` needs an address in the recipient's channel list.
    pub const fn required_for(channel: Channel) -> bool {
        !matches!(channel, Channel::Push | Channel::InApp)
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        match self {
            Address::Email(e) => e.as_str(),
            Address::Phone(p) => p.as_str(),
            Address::Slack(s) => s.as_str(),
        }
    }

    /// The address masked for logs and admin views.
    pub fn masked(&self) -> String {
        mask(self.as_str())
    }
}

/// Debug output is masked so an address never lands in a log by accident.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.masked())
    }
}

macro_rules! masked_debug {
    ($($ty:ty),+) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), mask(self.as_str()))
            }
        }
    )+};
}
masked_debug!(EmailAddress, E164, SlackTarget);

/// Masks a personal value: the first two and last two characters survive
/// (`user@example.com` → `us***om`); values of four characters or fewer become `***`.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "***".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

/// Where one delivery goes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An address (EMAIL, SMS, KAKAO_ALIMTALK, SLACK).
    Address(Address),
    /// A push device and its token.
    Device {
        /// The device.
        id: DeviceId,
        /// The vendor token (FCM/APNs/Web Push).
        token: String,
    },
    /// The recipient's in-app inbox.
    Inbox,
    /// The recipient was erased: only the masked form survives in the delivery history.
    Erased {
        /// The masked target as it was.
        masked: String,
    },
}

impl Target {
    /// The raw target text as given to the vendor (token for devices, `inbox` for IN_APP).
    pub fn as_str(&self) -> &str {
        match self {
            Target::Address(a) => a.as_str(),
            Target::Device { token, .. } => token,
            Target::Inbox => "inbox",
            Target::Erased { masked } => masked,
        }
    }

    /// The same target with everything personal removed (after the recipient is erased).
    pub fn erased(&self) -> Target {
        Target::Erased { masked: self.masked() }
    }

    /// The target masked for API responses and logs.
    pub fn masked(&self) -> String {
        match self {
            Target::Inbox => "inbox".to_owned(),
            Target::Erased { masked } => masked.clone(),
            other => mask(other.as_str()),
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masking_keeps_two_characters_each_side() {
        assert_eq!(mask("user@example.com"), "us***om");
        assert_eq!(mask("+821012345678"), "+8***78");
        assert_eq!(mask("abcd"), "***");
        assert_eq!(mask("가나다라마"), "가나***라마");
    }

    #[test]
    fn email_addresses_are_parsed_and_domain_lower_cased() {
        let e = EmailAddress::parse("First.Last+tag@Example.COM").unwrap();
        assert_eq!(e.as_str(), "First.Last+tag@example.com");
        for bad in [
            "",
            "no-at",
            "@x.com",
            "a@",
            "a@b",
            "a..b@x.com",
            ".a@x.com",
            "a@-x.com",
            "a b@x.com",
            "a@x..com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(AddressError::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn e164_requires_plus_and_8_to_15_digits() {
        assert!(E164::parse("+82101234").is_ok());
        assert!(E164::parse("+123456789012345").is_ok());
        for bad in ["821012345678", "+8210123", "+1234567890123456", "+8210-1234-5678", "+"] {
            assert_eq!(E164::parse(bad), Err(AddressError::InvalidPhone), "{bad}");
        }
    }

    #[test]
    fn slack_accepts_https_urls_and_aliases_only() {
        assert_eq!(
            SlackTarget::parse("https://hooks.slack.com/services/T/B/X"),
            Ok(SlackTarget::Webhook("https://hooks.slack.com/services/T/B/X".into()))
        );
        assert_eq!(SlackTarget::parse("ops"), Ok(SlackTarget::Alias("ops".into())));
        for bad in ["http://hooks.slack.com/x", "https://", "Ops", "1ops", "ops channel", ""] {
            assert_eq!(SlackTarget::parse(bad), Err(AddressError::InvalidSlackTarget), "{bad}");
        }
    }

    #[test]
    fn address_parsing_follows_the_channel() {
        assert!(matches!(Address::parse(Channel::Sms, "+821012345678"), Ok(Address::Phone(_))));
        assert!(matches!(Address::parse(Channel::KakaoAlimtalk, "+821012345678"), Ok(Address::Phone(_))));
        assert_eq!(Address::parse(Channel::Push, "x"), Err(AddressError::AddressNotAccepted(Channel::Push)));
        assert_eq!(Address::parse(Channel::Email, "+821012345678"), Err(AddressError::InvalidEmail));
    }

    #[test]
    fn debug_output_never_shows_the_address() {
        let a = Address::parse(Channel::Email, "secret.person@example.com").unwrap();
        assert!(!format!("{a:?}").contains("secret"));
        let t = Target::Address(a);
        assert!(!format!("{t:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn masked_value_never_contains_the_middle(s in "[a-z0-9]{5,40}") {
            let m = mask(&s);
            prop_assert!(m.contains("***"));
            prop_assert_eq!(m.chars().count(), 7);
        }

        #[test]
        fn any_e164_shape_parses(d in "[0-9]{8,15}") {
            let text = format!("+{d}");
            prop_assert!(E164::parse(&text).is_ok());
        }
    }
}
