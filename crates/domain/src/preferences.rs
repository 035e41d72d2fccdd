//! A recipient's notification preferences (SPEC §3, §5.2).

use std::collections::BTreeMap;

use chrono::NaiveTime;

use crate::channel::ChannelSet;
use crate::kind::Kind;
use crate::time_window::DailyWindow;

/// What a recipient allows for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindPreference {
    /// Whether the kind is wanted at all; only optional kinds may be `false`.
    pub allowed: bool,
    /// The channels it may use; empty means all channels.
    pub channels: ChannelSet,
}

impl Default for KindPreference {
    /// Allowed on every channel.
    fn default() -> Self {
        Self { allowed: true, channels: ChannelSet::EMPTY }
    }
}

/// Why preferences were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PreferencesError {
    /// `allowed: false` for SECURITY or TRANSACTIONAL, which cannot be opted out of.
    #[error("kind {0} is mandatory and cannot be opted out of")]
    MandatoryKind(Kind),
}

/// A recipient's per-kind choices and quiet hours; kinds without an entry are fully allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    kinds: BTreeMap<Kind, KindPreference>,
    quiet_hours: Option<DailyWindow>,
}

impl Preferences {
    /// Builds preferences, rejecting an opt-out of a mandatory kind.
    pub fn new(
        kinds: BTreeMap<Kind, KindPreference>,
        quiet_hours: Option<DailyWindow>,
    ) -> Result<Self, PreferencesError> {
        if let Some((kind, _)) = kinds.iter().find(|(kind, p)| kind.is_mandatory() && !p.allowed) {
            return Err(PreferencesError::MandatoryKind(*kind));
        }
        Ok(Self { kinds, quiet_hours })
    }

    /// The per-kind entries, as stored.
    pub fn kinds(&self) -> &BTreeMap<Kind, KindPreference> {
        &self.kinds
    }

    /// Quiet hours in the recipient's timezone, or None for none.
    pub fn quiet_hours(&self) -> Option<&DailyWindow> {
        self.quiet_hours.as_ref()
    }

    /// Whether the recipient wants this kind; mandatory kinds are always wanted.
    pub fn allows_kind(&self, kind: Kind) -> bool {
        kind.is_mandatory() || self.kinds.get(&kind).is_none_or(|p| p.allowed)
    }

    /// The channels this kind may use: the allow list, or every channel when absent or empty.
    pub fn allowed_channels(&self, kind: Kind) -> ChannelSet {
        match self.kinds.get(&kind) {
            Some(p) if !p.channels.is_empty() => p.channels,
            _ => ChannelSet::all(),
        }
    }

    /// The default quiet hours, 22:00-08:00.
    pub fn default_quiet_hours() -> DailyWindow {
        let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("a whole hour below 24 is a valid time");
        DailyWindow::new(at(22), at(8)).expect("22:00-08:00 is a valid window")
    }
}

impl Default for Preferences {
    /// Everything allowed on every channel, quiet hours 22:00-08:00.
    fn default() -> Self {
        Self { kinds: BTreeMap::new(), quiet_hours: Some(Self::default_quiet_hours()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;

    fn only(channels: &[Channel]) -> ChannelSet {
        channels.iter().copied().collect()
    }

    #[test]
    fn defaults_allow_everything_with_quiet_hours_from_ten_to_eight() {
        let p = Preferences::default();
        for kind in Kind::ALL {
            assert!(p.allows_kind(*kind), "{kind}");
            assert_eq!(p.allowed_channels(*kind), ChannelSet::all(), "{kind}");
        }
        assert_eq!(p.quiet_hours().map(ToString::to_string).as_deref(), Some("22:00-08:00"));
        assert_eq!(Preferences::default_quiet_hours().to_string(), "22:00-08:00");
        assert!(p.kinds().is_empty());
    }

    #[test]
    fn opting_out_of_a_mandatory_kind_is_rejected() {
        for kind in [Kind::Security, Kind::Transactional] {
            let kinds =
                BTreeMap::from([(kind, KindPreference { allowed: false, channels: ChannelSet::EMPTY })]);
            assert_eq!(Preferences::new(kinds, None), Err(PreferencesError::MandatoryKind(kind)));
        }
        let err = PreferencesError::MandatoryKind(Kind::Security);
        assert_eq!(err.to_string(), "kind SECURITY is mandatory and cannot be opted out of");
    }

    #[test]
    fn optional_kinds_can_be_opted_out_of() {
        let kinds = BTreeMap::from([
            (Kind::Marketing, KindPreference { allowed: false, channels: ChannelSet::EMPTY }),
            (Kind::Service, KindPreference { allowed: true, channels: only(&[Channel::Email]) }),
        ]);
        let p = Preferences::new(kinds, None).unwrap();
        assert!(!p.allows_kind(Kind::Marketing));
        assert!(p.allows_kind(Kind::Service));
        assert!(p.allows_kind(Kind::Transactional));
        assert_eq!(p.quiet_hours(), None);
    }

    #[test]
    fn a_channel_allow_list_restricts_its_kind_only() {
        let kinds = BTreeMap::from([
            (
                Kind::Transactional,
                KindPreference { allowed: true, channels: only(&[Channel::Sms, Channel::Email]) },
            ),
            (Kind::Marketing, KindPreference { allowed: true, channels: ChannelSet::EMPTY }),
        ]);
        let p = Preferences::new(kinds, Some(Preferences::default_quiet_hours())).unwrap();
        assert_eq!(p.allowed_channels(Kind::Transactional), only(&[Channel::Email, Channel::Sms]));
        assert_eq!(p.allowed_channels(Kind::Marketing), ChannelSet::all());
        assert_eq!(p.allowed_channels(Kind::Security), ChannelSet::all());
    }

    #[test]
    fn mandatory_kinds_may_still_restrict_their_channels() {
        let kinds = BTreeMap::from([(
            Kind::Security,
            KindPreference { allowed: true, channels: only(&[Channel::Push]) },
        )]);
        let p = Preferences::new(kinds, None).unwrap();
        assert!(p.allows_kind(Kind::Security));
        assert_eq!(p.allowed_channels(Kind::Security), only(&[Channel::Push]));
    }

    #[test]
    fn a_kind_preference_defaults_to_allowed_on_every_channel() {
        let d = KindPreference::default();
        assert!(d.allowed);
        assert!(d.channels.is_empty());
    }
}
