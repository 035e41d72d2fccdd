//! Daily local-time windows such as quiet hours and the Kakao night window (SPEC §3).
//!
//! A window is a pair of wall-clock times `[start, end)` at minute precision, repeated every
//! day and allowed to wrap midnight (`22:00-08:00`). Membership is decided on the local
//! wall-clock time in a zone; the instant a window ends is computed with chrono-tz, so daylight
//! saving changes are handled:
//!
//! - **Spring forward (gap).** If the end wall time does not exist that day, the window ends at
//!   the first instant after the gap — the transition itself. `01:00-02:30` in New York on
//!   2026-03-08 ends at 03:00 EDT, the moment the clock leaves the window.
//! - **Fall back (overlap).** If the end wall time happens twice, the window ends at the earlier
//!   instant that is still after the queried instant. `00:30-01:30` queried at 00:45 EDT ends at
//!   01:30 EDT; queried at 01:10 EST (the repeated hour, inside again) it ends at 01:30 EST.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Why a time or a window was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Not a whole-minute time `HH:MM` between 00:00 and 23:59.
    #[error("time must be HH:MM between 00:00 and 23:59")]
    InvalidTime,
    /// Start and end are the same time, so the window would be empty (or the whole day).
    #[error("window start and end must differ")]
    EmptyWindow,
    /// Not written `HH:MM-HH:MM`.
    #[error("window must be written HH:MM-HH:MM")]
    InvalidFormat,
}

/// A daily local-time window `[start, end)` that may wrap midnight (`22:00-08:00`), minute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DailyWindow {
    start: NaiveTime,
    end: NaiveTime,
}

/// How far [`DailyWindow::end_if_inside`] walks forward through a DST gap, in minutes. Real gaps
/// are at most a day (Samoa skipped 2011-12-30); two days leaves room.
const MAX_GAP_MINUTES: u32 = 2 * 24 * 60;

impl DailyWindow {
    /// Builds a window; both times must be whole minutes and differ.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, WindowError> {
        for t in [start, end] {
            if t.second() != 0 || t.nanosecond() != 0 {
                return Err(WindowError::InvalidTime);
            }
        }
        if start == end {
            return Err(WindowError::EmptyWindow);
        }
        Ok(Self { start, end })
    }

    /// Parses `HH:MM-HH:MM` (no spaces), e.g. `22:00-08:00`.
    pub fn parse(s: &str) -> Result<Self, WindowError> {
        let (start, end) = s.split_once('-').ok_or(WindowError::InvalidFormat)?;
        if end.contains('-') {
            return Err(WindowError::InvalidFormat);
        }
        Self::new(Self::parse_time(start)?, Self::parse_time(end)?)
    }

    /// Parses a two-digit `HH:MM` between 00:00 and 23:59.
    pub fn parse_time(s: &str) -> Result<NaiveTime, WindowError> {
        let b = s.as_bytes();
        let shaped = b.len() == 5 && b[2] == b':' && [b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit);
        if !shaped {
            return Err(WindowError::InvalidTime);
        }
        let number = |hi: u8, lo: u8| u32::from(hi - b'0') * 10 + u32::from(lo - b'0');
        let (hour, minute) = (number(b[0], b[1]), number(b[3], b[4]));
        NaiveTime::from_hms_opt(hour, minute, 0).ok_or(WindowError::InvalidTime)
    }

    /// The first minute inside the window.
    pub fn start(&self) -> NaiveTime {
        self.start
    }

    /// The first minute after the window.
    pub fn end(&self) -> NaiveTime {
        self.end
    }

    /// Whether the window wraps midnight (`start > end`).
    pub fn wraps_midnight(&self) -> bool {
        self.start > self.end
    }

    /// Whether a wall-clock time is inside `[start, end)`, wrapping midnight when `start > end`.
    pub fn contains_local(&self, t: NaiveTime) -> bool {
        if self.wraps_midnight() { t >= self.start || t < self.end } else { self.start <= t && t < self.end }
    }

    /// Whether the wall-clock time of `at` in `tz` is inside the window.
    pub fn contains(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.contains_local(at.with_timezone(&tz).time())
    }

    /// If `at` falls inside the window in `tz`, the UTC instant at which the window ends; else None.
    ///
    /// The end is the wall time `end` on the next local date at which it comes after `at`'s wall
    /// time. If that wall time falls in a spring-forward gap, the end is the first instant after
    /// the gap; if it happens twice (fall back), the earlier occurrence that is after `at`. The
    /// result is always strictly after `at`. (It is also None if the end lies beyond chrono's
    /// date range.)
    pub fn end_if_inside(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz).naive_local();
        if !self.contains_local(local.time()) {
            return None;
        }
        let first_date = if local.time() < self.end { local.date() } else { local.date().succ_opt()? };
        // The first date's end is the answer except in zones that move backwards by more than the
        // distance to `end`; the later dates keep the result strictly after `at` even then.
        (0..3).find_map(|days| {
            let date = first_date.checked_add_days(Days::new(days))?;
            first_instant_after(tz, date.and_time(self.end), at)
        })
    }
}

/// The earliest instant after `after` that shows `wall` in `tz`, or the end of the gap `wall`
/// falls into.
fn first_instant_after(tz: Tz, wall: NaiveDateTime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let candidates = match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => [Some(t.with_timezone(&Utc)), None],
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            [Some(a.min(b)), Some(a.max(b))]
        }
        LocalResult::None => [gap_end(tz, wall), None],
    };
    candidates.into_iter().flatten().find(|t| *t > after)
}

/// The first instant after the spring-forward gap that swallows `wall`.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Walk the wall clock forward to the first minute that exists again...
    let mut probe = wall;
    for _ in 0..MAX_GAP_MINUTES {
        probe = probe.checked_add_signed(TimeDelta::minutes(1))?;
        if let Some(found) = tz.from_local_datetime(&probe).earliest() {
            // ...then back up second by second to the transition, for the rare historical
            // offsets that are not whole minutes. Before the transition the wall clock reads
            // less than `wall`; from it on, more.
            let mut instant = found.with_timezone(&Utc);
            for _ in 0..60 {
                let earlier = instant - TimeDelta::seconds(1);
                if earlier.with_timezone(&tz).naive_local() < wall {
                    break;
                }
                instant = earlier;
            }
            return Some(instant);
        }
    }
    None
}

impl fmt::Display for DailyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

impl FromStr for DailyWindow {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn window(s: &str) -> DailyWindow {
        DailyWindow::parse(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The instant showing `wall` (`YYYY-MM-DD HH:MM`) in `tz`; panics unless it exists exactly once.
    fn local(tz: Tz, wall: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive).single().unwrap().with_timezone(&Utc)
    }

    const NEW_YORK: Tz = chrono_tz::America::New_York;
    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const SEOUL: Tz = chrono_tz::Asia::Seoul;

    #[test]
    fn windows_parse_and_display_as_hh_mm_pairs() {
        let w = window("22:00-08:00");
        assert_eq!((w.start(), w.end()), (hm(22, 0), hm(8, 0)));
        assert_eq!(w.to_string(), "22:00-08:00");
        assert_eq!(window("00:00-23:59").to_string(), "00:00-23:59");
        assert_eq!("20:50-08:00".parse::<DailyWindow>(), Ok(window("20:50-08:00")));
    }

    #[test]
    fn malformed_windows_are_rejected_with_a_precise_error() {
        let cases = [
            ("", WindowError::InvalidFormat),
            ("22:00", WindowError::InvalidFormat),
            ("22:00 08:00", WindowError::InvalidFormat),
            ("22:00-08:00-09:00", WindowError::InvalidFormat),
            ("22:00-", WindowError::InvalidTime),
            ("24:00-08:00", WindowError::InvalidTime),
            ("22:60-08:00", WindowError::InvalidTime),
            ("7:00-08:00", WindowError::InvalidTime),
            ("22:00-08:00:00", WindowError::InvalidTime),
            (" 22:00-08:00", WindowError::InvalidTime),
            ("22h00-08h00", WindowError::InvalidTime),
            ("+1:00-08:00", WindowError::InvalidTime),
            ("08:00-08:00", WindowError::EmptyWindow),
        ];
        for (text, expected) in cases {
            assert_eq!(DailyWindow::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn times_parse_only_as_two_digit_hours_and_minutes() {
        assert_eq!(DailyWindow::parse_time("00:00"), Ok(hm(0, 0)));
        assert_eq!(DailyWindow::parse_time("23:59"), Ok(hm(23, 59)));
        for bad in ["24:00", "23:60", "9:30", "09:3", "0930", "09-30", "٠٩:٣٠", "", "09:30 "] {
            assert_eq!(DailyWindow::parse_time(bad), Err(WindowError::InvalidTime), "{bad:?}");
        }
    }

    #[test]
    fn windows_with_seconds_or_equal_ends_cannot_be_built() {
        let with_seconds = NaiveTime::from_hms_opt(8, 0, 30).unwrap();
        assert_eq!(DailyWindow::new(hm(22, 0), with_seconds), Err(WindowError::InvalidTime));
        assert_eq!(DailyWindow::new(hm(22, 0), hm(22, 0)), Err(WindowError::EmptyWindow));
        assert!(DailyWindow::new(hm(22, 0), hm(8, 0)).is_ok());
    }

    #[test]
    fn a_window_wrapping_midnight_contains_the_night_and_excludes_its_end() {
        let w = window("22:00-08:00");
        assert!(w.wraps_midnight());
        for (h, m, inside) in [
            (22, 0, true),
            (23, 0, true),
            (0, 0, true),
            (7, 59, true),
            (8, 0, false),
            (12, 0, false),
            (21, 59, false),
        ] {
            assert_eq!(w.contains_local(hm(h, m)), inside, "{h:02}:{m:02}");
        }
        assert!(w.contains_local(NaiveTime::from_hms_opt(7, 59, 59).unwrap()));
    }

    #[test]
    fn a_daytime_window_contains_only_its_own_hour() {
        let w = window("13:00-14:00");
        assert!(!w.wraps_midnight());
        for (h, m, inside) in [(12, 59, false), (13, 0, true), (13, 59, true), (14, 0, false), (0, 0, false)]
        {
            assert_eq!(w.contains_local(hm(h, m)), inside, "{h:02}:{m:02}");
        }
    }

    #[test]
    fn quiet_hours_defer_to_window_end_across_midnight() {
        let w = window("22:00-08:00");
        // Seoul is UTC+9 all year.
        assert_eq!(
            w.end_if_inside(local(SEOUL, "2026-06-10 23:00"), SEOUL),
            Some(utc("2026-06-10T23:00:00Z")) // 08:00 on the 11th in Seoul
        );
        assert_eq!(
            w.end_if_inside(local(SEOUL, "2026-06-11 07:59"), SEOUL),
            Some(utc("2026-06-10T23:00:00Z"))
        );
        assert_eq!(
            w.end_if_inside(local(SEOUL, "2026-06-11 00:00"), SEOUL),
            Some(utc("2026-06-10T23:00:00Z"))
        );
        assert_eq!(w.end_if_inside(local(SEOUL, "2026-06-11 08:00"), SEOUL), None);
        assert_eq!(w.end_if_inside(local(SEOUL, "2026-06-10 21:59"), SEOUL), None);
    }

    #[test]
    fn a_daytime_window_ends_the_same_day() {
        let w = window("13:00-14:00");
        assert_eq!(
            w.end_if_inside(local(SEOUL, "2026-06-10 13:30"), SEOUL),
            Some(local(SEOUL, "2026-06-10 14:00"))
        );
        assert_eq!(w.end_if_inside(local(SEOUL, "2026-06-10 14:00"), SEOUL), None);
        assert_eq!(w.end_if_inside(local(SEOUL, "2026-06-10 12:59"), SEOUL), None);
    }

    #[test]
    fn membership_uses_the_wall_clock_of_the_given_zone() {
        let w = window("22:00-08:00");
        let at = utc("2026-06-10T14:00:00Z"); // 23:00 in Seoul, 10:00 in New York (EDT)
        assert!(w.contains(at, SEOUL));
        assert!(!w.contains(at, NEW_YORK));
        assert_eq!(w.end_if_inside(at, NEW_YORK), None);
    }

    #[test]
    fn an_overnight_window_across_spring_forward_ends_an_hour_earlier_in_utc() {
        let w = window("22:00-08:00");
        // New York: 2026-03-08 02:00 EST -> 03:00 EDT.
        assert_eq!(
            w.end_if_inside(utc("2026-03-08T04:00:00Z"), NEW_YORK), // 23:00 EST on the 7th
            Some(utc("2026-03-08T12:00:00Z"))                       // 08:00 EDT
        );
        // A normal night a week earlier ends at 13:00 UTC.
        assert_eq!(w.end_if_inside(utc("2026-03-01T04:00:00Z"), NEW_YORK), Some(utc("2026-03-01T13:00:00Z")));
        // Berlin: 2026-03-29 02:00 CET -> 03:00 CEST.
        assert_eq!(
            w.end_if_inside(utc("2026-03-28T22:00:00Z"), BERLIN), // 23:00 CET
            Some(utc("2026-03-29T06:00:00Z"))                     // 08:00 CEST
        );
    }

    #[test]
    fn an_overnight_window_across_fall_back_ends_an_hour_later_in_utc() {
        let w = window("22:00-08:00");
        // New York: 2026-11-01 02:00 EDT -> 01:00 EST.
        assert_eq!(
            w.end_if_inside(utc("2026-11-01T03:00:00Z"), NEW_YORK), // 23:00 EDT on Oct 31
            Some(utc("2026-11-01T13:00:00Z"))                       // 08:00 EST
        );
        // Inside the repeated hour (01:30 EST) the same night still ends at 08:00 EST.
        assert_eq!(w.end_if_inside(utc("2026-11-01T06:30:00Z"), NEW_YORK), Some(utc("2026-11-01T13:00:00Z")));
        // Berlin: 2026-10-25 03:00 CEST -> 02:00 CET.
        assert_eq!(
            w.end_if_inside(utc("2026-10-24T21:00:00Z"), BERLIN), // 23:00 CEST
            Some(utc("2026-10-25T07:00:00Z"))                     // 08:00 CET
        );
    }

    #[test]
    fn a_window_ending_inside_the_spring_forward_gap_ends_when_the_gap_ends() {
        let w = window("01:00-02:30");
        // New York: 01:30 EST; 02:30 does not exist, the clock jumps to 03:00 EDT = 07:00 UTC.
        assert_eq!(w.end_if_inside(utc("2026-03-08T06:30:00Z"), NEW_YORK), Some(utc("2026-03-08T07:00:00Z")));
        // Berlin: 01:30 CET; the clock jumps from 02:00 CET to 03:00 CEST = 01:00 UTC.
        assert_eq!(w.end_if_inside(utc("2026-03-29T00:30:00Z"), BERLIN), Some(utc("2026-03-29T01:00:00Z")));
        // A window ending exactly at the start of the gap ends at the jump too.
        assert_eq!(
            window("01:00-02:00").end_if_inside(utc("2026-03-08T06:30:00Z"), NEW_YORK),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn a_window_ending_in_the_repeated_hour_ends_at_the_first_occurrence() {
        let w = window("00:30-01:30");
        // New York: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
        assert_eq!(w.end_if_inside(utc("2026-11-01T04:45:00Z"), NEW_YORK), Some(utc("2026-11-01T05:30:00Z")));
        // Back inside during the repeated hour (01:10 EST): the second 01:30 is the next end.
        assert_eq!(w.end_if_inside(utc("2026-11-01T06:10:00Z"), NEW_YORK), Some(utc("2026-11-01T06:30:00Z")));
        // Between the two occurrences the wall clock (01:30-01:59 EDT) is outside.
        assert_eq!(w.end_if_inside(utc("2026-11-01T05:45:00Z"), NEW_YORK), None);
        // Berlin: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET).
        assert_eq!(
            window("01:30-02:30").end_if_inside(utc("2026-10-24T23:45:00Z"), BERLIN),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_window_ending_after_the_repeated_hour_waits_for_the_single_end_time() {
        // [01:30, 02:00) on fall-back night: 02:00 only exists once (EST), so a message held at
        // 01:45 EDT waits through the repeated hour until 02:00 EST.
        let w = window("01:30-02:00");
        assert_eq!(w.end_if_inside(utc("2026-11-01T05:45:00Z"), NEW_YORK), Some(utc("2026-11-01T07:00:00Z")));
    }

    #[test]
    fn an_overnight_window_ending_in_the_gap_ends_at_the_jump() {
        let w = window("23:00-02:30");
        let at = local(NEW_YORK, "2026-03-07 23:30"); // EST
        assert_eq!(w.end_if_inside(at, NEW_YORK), Some(utc("2026-03-08T07:00:00Z")));
        // A nearly-all-day window whose reopening minute is swallowed: ends at the jump, where
        // the wall clock (03:00) is still inside; the next query moves on to the next day.
        let w = window("02:50-02:45");
        let end = w.end_if_inside(local(NEW_YORK, "2026-03-07 02:50"), NEW_YORK).unwrap();
        assert_eq!(end, utc("2026-03-08T07:00:00Z"));
        assert!(w.contains(end, NEW_YORK));
        assert_eq!(w.end_if_inside(end, NEW_YORK), Some(local(NEW_YORK, "2026-03-09 02:45")));
    }

    #[test]
    fn the_end_of_a_window_is_always_after_the_queried_instant() {
        let w = window("23:59-00:00");
        let at = utc("2026-06-10T14:59:59Z"); // 23:59:59 in Seoul
        assert_eq!(w.end_if_inside(at, SEOUL), Some(utc("2026-06-10T15:00:00Z")));
    }

    #[test]
    fn a_day_skipped_by_the_date_line_still_yields_an_end_after_it() {
        // Samoa jumped from 2011-12-29 23:59:59 (UTC-10) to 2011-12-31 00:00 (UTC+14).
        let apia = chrono_tz::Pacific::Apia;
        let w = window("22:00-08:00");
        let at = local(apia, "2011-12-29 23:00");
        let end = w.end_if_inside(at, apia).unwrap();
        assert_eq!(end, utc("2011-12-30T10:00:00Z")); // the jump: 2011-12-31 00:00 local
        assert!(w.contains(end, apia)); // still night after the jump; the next query moves on
        assert_eq!(w.end_if_inside(end, apia), Some(local(apia, "2011-12-31 08:00")));
    }

    fn zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::America::New_York,
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Seoul,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::America::St_Johns,
            chrono_tz::Pacific::Apia,
            chrono_tz::UTC,
        ])
    }

    fn any_window() -> impl Strategy<Value = DailyWindow> {
        (0u32..1440, 1u32..1440).prop_map(|(start, len)| {
            let end = (start + len) % 1440;
            DailyWindow::new(hm(start / 60, start % 60), hm(end / 60, end % 60)).unwrap()
        })
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        let from = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        (0i64..40 * 366 * 86_400).prop_map(move |s| from + TimeDelta::seconds(s))
    }

    /// Whether the zone's offset changes within the minute before `t` (a DST transition).
    fn is_transition(t: DateTime<Utc>, tz: Tz) -> bool {
        let before = (t - TimeDelta::minutes(1)).with_timezone(&tz).naive_local();
        t.with_timezone(&tz).naive_local() - before != TimeDelta::minutes(1)
    }

    proptest! {
        #[test]
        fn window_end_is_after_the_instant_and_closes_the_window(
            at in any_instant(), w in any_window(), tz in zone()
        ) {
            match w.end_if_inside(at, tz) {
                Some(end) => {
                    prop_assert!(end > at);
                    let last_minute = (end - TimeDelta::minutes(1)).with_timezone(&tz).time();
                    prop_assert!(w.contains_local(last_minute) || is_transition(end, tz));
                    // The end shows the window's end time, unless a transition moved it.
                    prop_assert!(end.with_timezone(&tz).time() == w.end() || is_transition(end, tz));
                }
                None => prop_assert!(!w.contains(at, tz)),
            }
        }

        #[test]
        fn inside_the_window_there_is_always_an_end(at in any_instant(), w in any_window(), tz in zone()) {
            prop_assert_eq!(w.contains(at, tz), w.end_if_inside(at, tz).is_some());
        }

        #[test]
        fn any_window_survives_a_display_parse_round_trip(w in any_window()) {
            prop_assert_eq!(DailyWindow::parse(&w.to_string()), Ok(w));
        }
    }
}
