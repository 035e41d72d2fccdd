//! The ChannelResolver (SPEC §3): which channels a notification goes to, when, and why not.
//!
//! [`resolve`] is a pure function of the request (kind, requested channels, recipient,
//! preferences, `now`, `sendAt`, `expiresAt`) and the [`ResolverPolicy`]. Its contract:
//!
//! **Candidates.** The channels listed in the recipient's contacts (PUSH also when the recipient
//! has any device, active or not) plus the requested channels. Each candidate yields decisions
//! in canonical channel order ([`Channel::CANONICAL`]); PUSH yields one per active device. A
//! skip is always a single decision for its channel, without a target.
//!
//! **Rules, in order** — the first that applies decides a skip:
//! 1. an optional kind (SERVICE, MARKETING) the recipient does not allow → every candidate
//!    `SKIP(OPTED_OUT)`;
//! 2. a channel outside the request's `channels` (when given) or outside the kind's allow list
//!    → `SKIP(CHANNEL_NOT_ALLOWED)`;
//! 3. EMAIL/SMS/KAKAO_ALIMTALK/SLACK without an address, IN_APP not listed →
//!    `SKIP(NO_ADDRESS)`; PUSH without an active device → `SKIP(NO_ACTIVE_DEVICE)`. Otherwise the
//!    targets are the address, [`Target::Inbox`], or one [`Target::Device`] per active device,
//!    oldest registration first.
//!
//! Then the dispatch instant `t` starts at `max(now, sendAt)` (reason `SCHEDULED` when `sendAt`
//! is later than `now`) and is moved by:
//!
//! 4. quiet hours (the preferences' window in the recipient's timezone): for every kind but
//!    SECURITY, `t` inside the window moves to its end (`QUIET_HOURS`);
//! 5. the Kakao night window (the policy's window in the policy's zone, whatever the recipient's
//!    timezone): a KAKAO_ALIMTALK `t` inside it
//!    - for SECURITY/TRANSACTIONAL: Kakao becomes `SKIP(KAKAO_NIGHT)` and an SMS fallback
//!      (대체발송) is added at the same `t` and with the same reason — to the recipient's SMS
//!      address, else the Kakao number, `fallback_for = KAKAO_ALIMTALK` — unless an SMS decision
//!      already sends or defers. The fallback replaces an SMS skip: allowing Kakao (in the
//!      request or in the allow list) permits the fallback even where SMS itself is not allowed;
//!    - for other kinds: `t` moves to the end of the window (`KAKAO_NIGHT`).
//!
//!    Rules 4 and 5 are applied again until `t` stops moving, since the end of one window may
//!    lie in the other (in another timezone). If `t` still moves after [`MAX_WINDOW_ROUNDS`]
//!    rounds, the two windows cover every day and the Kakao delivery can never go out: it is
//!    `SKIP(KAKAO_NIGHT)`.
//! 6. `expiresAt` at or before the final `t` → `SKIP(EXPIRED)`. This compares the instant the
//!    delivery would be dispatched, so it also expires an immediate send whose `expiresAt` is
//!    already past (or exactly `now`); an SMS fallback that would expire is reported as an
//!    `SKIP(EXPIRED)` fallback.
//!
//! **Outcome.** `t == now` → `SEND`; `t > now` → `DEFER(until: t)` with the reason of the last
//! rule that moved `t`.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::address::Target;
use crate::channel::{Channel, ChannelSet};
use crate::kind::{Kind, named_enum};
use crate::preferences::Preferences;
use crate::recipient::Recipient;
use crate::time_window::DailyWindow;

named_enum!(
    /// Why a channel was skipped or deferred.
    Reason {
        /// The recipient opted out of this optional kind (rule 1).
        OptedOut => "OPTED_OUT",
        /// Outside the request's channels or the kind's allow list (rule 2).
        ChannelNotAllowed => "CHANNEL_NOT_ALLOWED",
        /// The recipient has no address for the channel (rule 3).
        NoAddress => "NO_ADDRESS",
        /// The recipient has no active push device (rule 3).
        NoActiveDevice => "NO_ACTIVE_DEVICE",
        /// Held back by the recipient's quiet hours (rule 4).
        QuietHours => "QUIET_HOURS",
        /// Held back or skipped by the Kakao night window (rule 5).
        KakaoNight => "KAKAO_NIGHT",
        /// The dispatch instant is at or after `expiresAt` (rule 6).
        Expired => "EXPIRED",
        /// Held back until the requested `sendAt`.
        Scheduled => "SCHEDULED",
    }
);

/// What happens to one channel (or one push device) of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Dispatch now.
    Send,
    /// Dispatch later.
    Defer {
        /// Not before this instant.
        until: DateTime<Utc>,
        /// QUIET_HOURS, KAKAO_NIGHT or SCHEDULED: the last rule that moved the instant.
        reason: Reason,
    },
    /// Do not dispatch.
    Skip(Reason),
}

impl Outcome {
    /// Whether this becomes a delivery (SEND or DEFER).
    pub const fn is_delivery(&self) -> bool {
        !matches!(self, Outcome::Skip(_))
    }

    /// The reason of a DEFER or SKIP.
    pub const fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Send => None,
            Outcome::Defer { reason, .. } | Outcome::Skip(reason) => Some(*reason),
        }
    }
}

/// The resolver's verdict for one channel, or one push device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The channel.
    pub channel: Channel,
    /// Where it goes: Some for SEND/DEFER, None for SKIP.
    pub target: Option<Target>,
    /// SEND, DEFER or SKIP.
    pub outcome: Outcome,
    /// `Some(KAKAO_ALIMTALK)` on the SMS decision that stands in for a Kakao message at night.
    pub fallback_for: Option<Channel>,
}

impl Decision {
    fn skip(channel: Channel, reason: Reason) -> Self {
        Decision { channel, target: None, outcome: Outcome::Skip(reason), fallback_for: None }
    }
}

/// Operator settings the resolver applies to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverPolicy {
    /// When KAKAO_ALIMTALK may not be dispatched (`NH_KAKAO_NIGHT_WINDOW`).
    pub kakao_night: DailyWindow,
    /// The zone of the Kakao night window (`NH_KAKAO_NIGHT_TIMEZONE`).
    pub kakao_night_tz: Tz,
}

impl Default for ResolverPolicy {
    /// 20:50-08:00 in Asia/Seoul.
    fn default() -> Self {
        let start = NaiveTime::from_hms_opt(20, 50, 0).expect("20:50 is a valid time");
        let end = NaiveTime::from_hms_opt(8, 0, 0).expect("08:00 is a valid time");
        Self {
            kakao_night: DailyWindow::new(start, end).expect("20:50-08:00 is a valid window"),
            kakao_night_tz: chrono_tz::Asia::Seoul,
        }
    }
}

/// Everything about one notification the resolver looks at.
#[derive(Debug, Clone, Copy)]
pub struct ResolveRequest<'a> {
    /// The notification's kind.
    pub kind: Kind,
    /// The channels the caller restricted the notification to, if any.
    pub requested: Option<ChannelSet>,
    /// Who receives it.
    pub recipient: &'a Recipient,
    /// The recipient's preferences.
    pub preferences: &'a Preferences,
    /// The current instant.
    pub now: DateTime<Utc>,
    /// Not before this instant, if given.
    pub send_at: Option<DateTime<Utc>>,
    /// Not at or after this instant, if given.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The decisions for one notification, in canonical channel order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// One per candidate channel, or per active device for PUSH, plus any SMS fallback.
    pub decisions: Vec<Decision>,
}

impl Resolution {
    /// The decisions that become deliveries (SEND or DEFER).
    pub fn deliveries(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.outcome.is_delivery())
    }

    /// The SKIP decisions.
    pub fn skipped(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| !d.outcome.is_delivery())
    }

    /// Whether nothing will be dispatched at all.
    pub fn is_suppressed(&self) -> bool {
        self.deliveries().next().is_none()
    }

    /// When suppressed, the reason of the first skip in canonical order; None when something
    /// is dispatched, or when there was no candidate channel at all.
    pub fn suppression_reason(&self) -> Option<Reason> {
        if !self.is_suppressed() {
            return None;
        }
        self.skipped().next().and_then(|d| d.outcome.reason())
    }

    /// The channels with at least one SEND or DEFER.
    pub fn channels_to_send(&self) -> ChannelSet {
        self.deliveries().map(|d| d.channel).collect()
    }
}

/// How many times rules 4 and 5 are re-applied before the windows are taken to cover every day.
pub const MAX_WINDOW_ROUNDS: usize = 8;

/// Decides, per candidate channel, whether and when a notification is dispatched (see the
/// module documentation for the rules).
pub fn resolve(req: &ResolveRequest<'_>, policy: &ResolverPolicy) -> Resolution {
    let mut decisions = Vec::new();
    let mut sms_fallback = None;
    for channel in candidates(req).iter() {
        let targets = match targets(channel, req) {
            Ok(targets) => targets,
            Err(reason) => {
                decisions.push(Decision::skip(channel, reason));
                continue;
            }
        };
        let slot = match timing(channel, req, policy) {
            Timing::At(slot) => slot,
            Timing::KakaoNight(slot) => {
                decisions.push(Decision::skip(channel, Reason::KakaoNight));
                sms_fallback = Some(slot);
                continue;
            }
            Timing::Never => {
                decisions.push(Decision::skip(channel, Reason::KakaoNight));
                continue;
            }
        };
        match finish(slot, req) {
            Outcome::Skip(reason) => decisions.push(Decision::skip(channel, reason)),
            outcome => decisions.extend(targets.into_iter().map(|target| Decision {
                channel,
                target: Some(target),
                outcome,
                fallback_for: None,
            })),
        }
    }
    if let Some(slot) = sms_fallback {
        add_sms_fallback(&mut decisions, slot, req);
    }
    Resolution { decisions }
}

/// The contact channels, PUSH when there is any device, and the requested channels.
fn candidates(req: &ResolveRequest<'_>) -> ChannelSet {
    let mut set: ChannelSet = req.recipient.contacts.iter().map(|c| c.channel).collect();
    if !req.recipient.devices.is_empty() {
        set.insert(Channel::Push);
    }
    for channel in req.requested.unwrap_or(ChannelSet::EMPTY).iter() {
        set.insert(channel);
    }
    set
}

/// Rules 1-3: the targets of a channel, or why it is skipped.
fn targets(channel: Channel, req: &ResolveRequest<'_>) -> Result<Vec<Target>, Reason> {
    if !req.preferences.allows_kind(req.kind) {
        return Err(Reason::OptedOut);
    }
    let requested = req.requested.is_none_or(|r| r.contains(channel));
    if !requested || !req.preferences.allowed_channels(req.kind).contains(channel) {
        return Err(Reason::ChannelNotAllowed);
    }
    let recipient = req.recipient;
    match channel {
        Channel::Push => {
            let devices: Vec<Target> = recipient
                .active_devices()
                .into_iter()
                .map(|d| Target::Device { id: d.id, token: d.token.as_str().to_owned() })
                .collect();
            if devices.is_empty() { Err(Reason::NoActiveDevice) } else { Ok(devices) }
        }
        Channel::InApp => {
            recipient.contact(Channel::InApp).map(|_| vec![Target::Inbox]).ok_or(Reason::NoAddress)
        }
        Channel::Email | Channel::Sms | Channel::KakaoAlimtalk | Channel::Slack => {
            recipient.address(channel).map(|a| vec![Target::Address(a.clone())]).ok_or(Reason::NoAddress)
        }
    }
}

/// A dispatch instant and the last reason that moved it (None while it is still `now`).
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: DateTime<Utc>,
    reason: Option<Reason>,
}

/// Where rules 4 and 5 leave a channel.
#[derive(Debug)]
enum Timing {
    /// Dispatch at this slot (rule 6 still to come).
    At(Slot),
    /// A SECURITY/TRANSACTIONAL Kakao message inside the night window: fall back to SMS here.
    KakaoNight(Slot),
    /// The windows never clear (a Kakao message of an optional kind).
    Never,
}

/// Rules 4 and 5, re-applied until the instant is stable.
fn timing(channel: Channel, req: &ResolveRequest<'_>, policy: &ResolverPolicy) -> Timing {
    let mut slot = match req.send_at {
        Some(send_at) if send_at > req.now => Slot { at: send_at, reason: Some(Reason::Scheduled) },
        _ => Slot { at: req.now, reason: None },
    };
    let quiet_hours = req.preferences.quiet_hours().filter(|_| req.kind.respects_quiet_hours());
    let recipient_tz = req.recipient.timezone.tz();
    let is_kakao = channel == Channel::KakaoAlimtalk;
    let kakao_waits = is_kakao && !req.kind.has_kakao_sms_fallback();
    let kakao_end = |at| policy.kakao_night.end_if_inside(at, policy.kakao_night_tz);

    for _ in 0..MAX_WINDOW_ROUNDS {
        let before = slot.at;
        if let Some(end) = quiet_hours.and_then(|w| w.end_if_inside(slot.at, recipient_tz)) {
            slot = Slot { at: end, reason: Some(Reason::QuietHours) };
        }
        if kakao_waits {
            if let Some(end) = kakao_end(slot.at) {
                slot = Slot { at: end, reason: Some(Reason::KakaoNight) };
            }
        }
        if slot.at == before {
            return if is_kakao && policy.kakao_night.contains(slot.at, policy.kakao_night_tz) {
                Timing::KakaoNight(slot)
            } else {
                Timing::At(slot)
            };
        }
    }
    // Quiet hours alone always clear (their end lies outside them), so only the pair of
    // windows can keep moving the instant: together they cover the day.
    Timing::Never
}

/// Rule 6 and the final outcome for a dispatch slot.
fn finish(slot: Slot, req: &ResolveRequest<'_>) -> Outcome {
    if req.expires_at.is_some_and(|expires| slot.at >= expires) {
        return Outcome::Skip(Reason::Expired);
    }
    match slot.reason {
        // The instant only moves past `now` together with a reason.
        Some(reason) if slot.at > req.now => Outcome::Defer { until: slot.at, reason },
        _ => Outcome::Send,
    }
}

/// Rule 5 for SECURITY/TRANSACTIONAL: SMS stands in for Kakao unless SMS already carries it.
fn add_sms_fallback(decisions: &mut Vec<Decision>, slot: Slot, req: &ResolveRequest<'_>) {
    if decisions.iter().any(|d| d.channel == Channel::Sms && d.outcome.is_delivery()) {
        return;
    }
    let recipient = req.recipient;
    let Some(address) = recipient.address(Channel::Sms).or_else(|| recipient.address(Channel::KakaoAlimtalk))
    else {
        return; // unreachable: Kakao only reaches rule 5 with an address
    };
    let outcome = finish(slot, req);
    let target = outcome.is_delivery().then(|| Target::Address(address.clone()));
    decisions.retain(|d| d.channel != Channel::Sms);
    let position = decisions.iter().position(|d| d.channel > Channel::Sms).unwrap_or(decisions.len());
    let fallback =
        Decision { channel: Channel::Sms, target, outcome, fallback_for: Some(Channel::KakaoAlimtalk) };
    decisions.insert(position, fallback);
}

#[cfg(test)]
mod tests;
