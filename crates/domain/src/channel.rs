//! Delivery channels in their canonical order (SPEC §3).

use std::fmt;

use crate::kind::named_enum;

named_enum!(
    /// A way to reach a recipient. Declaration order is the canonical order.
    Channel {
        /// Mobile/web push through registered devices.
        Push => "PUSH",
        /// E-mail.
        Email => "EMAIL",
        /// SMS / LMS.
        Sms => "SMS",
        /// Kakao AlimTalk (Korean business messaging).
        KakaoAlimtalk => "KAKAO_ALIMTALK",
        /// Slack incoming webhook.
        Slack => "SLACK",
        /// The in-app inbox.
        InApp => "IN_APP",
    }
);

impl Channel {
    /// The channels in canonical order.
    pub const CANONICAL: [Channel; 6] =
        [Channel::Push, Channel::Email, Channel::Sms, Channel::KakaoAlimtalk, Channel::Slack, Channel::InApp];

    /// Position in the canonical order (0-based).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name used in queue topics (`notification.delivery.kakao_alimtalk`).
    pub fn topic_suffix(self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// The queue topic for this channel under a prefix (SPEC §4).
    pub fn topic(self, prefix: &str) -> String {
        format!("{prefix}notification.delivery.{}", self.topic_suffix())
    }
}

/// A set of channels, iterated in canonical order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ChannelSet(u8);

impl ChannelSet {
    /// The empty set.
    pub const EMPTY: ChannelSet = ChannelSet(0);

    /// Every channel.
    pub const fn all() -> Self {
        ChannelSet(0b11_1111)
    }

    /// Adds a channel.
    pub fn insert(&mut self, channel: Channel) {
        self.0 |= 1 << channel.index();
    }

    /// Removes a channel.
    pub fn remove(&mut self, channel: Channel) {
        self.0 &= !(1 << channel.index());
    }

    /// Whether the channel is in the set.
    pub const fn contains(self, channel: Channel) -> bool {
        self.0 & (1 << channel.index()) != 0
    }

    /// Whether the set holds no channel.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of channels in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The channels in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Channel> {
        Channel::CANONICAL.into_iter().filter(move |c| self.contains(*c))
    }

    /// The channels as a vector in canonical order.
    pub fn to_vec(self) -> Vec<Channel> {
        self.iter().collect()
    }
}

impl FromIterator<Channel> for ChannelSet {
    fn from_iter<I: IntoIterator<Item = Channel>>(iter: I) -> Self {
        let mut set = ChannelSet::EMPTY;
        for channel in iter {
            set.insert(channel);
        }
        set
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_is_the_spec_list() {
        assert_eq!(Channel::ALL, &Channel::CANONICAL);
        let mut shuffled = vec![Channel::InApp, Channel::Sms, Channel::Push, Channel::Slack];
        shuffled.sort();
        assert_eq!(shuffled, vec![Channel::Push, Channel::Sms, Channel::Slack, Channel::InApp]);
    }

    #[test]
    fn topic_uses_lower_case_channel() {
        assert_eq!(Channel::KakaoAlimtalk.topic("prod."), "prod.notification.delivery.kakao_alimtalk");
    }

    #[test]
    fn channel_set_iterates_in_canonical_order() {
        let set: ChannelSet = [Channel::InApp, Channel::Email, Channel::Push].into_iter().collect();
        assert_eq!(set.to_vec(), vec![Channel::Push, Channel::Email, Channel::InApp]);
        assert_eq!(set.len(), 3);
        assert!(!set.contains(Channel::Sms));
        assert_eq!(ChannelSet::all().len(), 6);
    }
}
