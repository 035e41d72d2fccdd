//! Typed, prefixed ULID identifiers (`ntf_01J…`), all made by one macro.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// Why an id string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The string does not start with the id's prefix (e.g. `ntf_`).
    #[error("expected an id starting with `{expected}`")]
    WrongPrefix {
        /// The prefix this id type requires.
        expected: &'static str,
    },
    /// The part after the prefix is not a ULID.
    #[error("the part after `{prefix}` is not a valid ULID")]
    InvalidUlid {
        /// The prefix this id type requires.
        prefix: &'static str,
    },
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The textual prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps an existing ULID.
            pub const fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// Builds an id from a millisecond timestamp and 80 bits of randomness, so
            /// callers inject both the clock and the random source.
            pub fn from_parts(timestamp_ms: u64, random: u128) -> Self {
                Self(Ulid::from_parts(timestamp_ms, random))
            }

            /// The underlying ULID.
            pub const fn ulid(self) -> Ulid {
                self.0
            }

            /// Parses `prefix + ULID`, e.g. `ntf_01J9Z…`; the ULID's letters may be in either
            /// case.
            pub fn parse(s: &str) -> Result<Self, IdParseError> {
                let rest = s
                    .strip_prefix($prefix)
                    .ok_or(IdParseError::WrongPrefix { expected: $prefix })?;
                // 26 base-32 digits hold 130 bits, a ULID 128: a first digit above 7 overflows,
                // and the `ulid` crate would drop the top bits, so `…8ZZ…` would alias `…0ZZ…`.
                if rest.as_bytes().first().is_some_and(|b| *b > b'7') {
                    return Err(IdParseError::InvalidUlid { prefix: $prefix });
                }
                Ulid::from_string(rest)
                    .map(Self)
                    .map_err(|_| IdParseError::InvalidUlid { prefix: $prefix })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A notification, as accepted from a caller.
    NotificationId,
    "ntf_"
);
prefixed_id!(
    /// One channel × address of a notification.
    DeliveryId,
    "dlv_"
);
prefixed_id!(
    /// A template version.
    TemplateId,
    "tpl_"
);
prefixed_id!(
    /// A registered push device.
    DeviceId,
    "dev_"
);
prefixed_id!(
    /// A bulk DLQ job.
    JobId,
    "job_"
);
prefixed_id!(
    /// An outbox event (one publication of a delivery to its queue).
    EventId,
    "evt_"
);
prefixed_id!(
    /// An audit-trail entry.
    AuditId,
    "aud_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_renders_with_prefix_and_parses_back() {
        let id = NotificationId::from_parts(1_700_000_000_000, 42);
        let text = id.to_string();
        assert!(text.starts_with("ntf_"));
        assert_eq!(text.len(), 4 + 26);
        assert_eq!(NotificationId::parse(&text), Ok(id));
    }

    #[test]
    fn id_with_another_prefix_is_rejected() {
        let text = DeliveryId::from_parts(1, 2).to_string();
        assert_eq!(NotificationId::parse(&text), Err(IdParseError::WrongPrefix { expected: "ntf_" }));
    }

    #[test]
    fn id_with_garbage_after_prefix_is_rejected() {
        assert_eq!(JobId::parse("job_not-a-ulid"), Err(IdParseError::InvalidUlid { prefix: "job_" }));
        assert!(TemplateId::parse("tpl_").is_err());
    }

    #[test]
    fn a_ulid_over_128_bits_is_rejected_rather_than_aliasing_a_smaller_one() {
        let largest = NotificationId::parse("ntf_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        assert_eq!(largest.ulid().0, u128::MAX);
        for text in [
            "ntf_8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "ntf_Z0000000000000000000000000",
            "ntf_z0000000000000000000000000",
        ] {
            assert_eq!(
                NotificationId::parse(text),
                Err(IdParseError::InvalidUlid { prefix: "ntf_" }),
                "{text}"
            );
        }
    }

    #[test]
    fn ulid_letters_are_read_in_either_case() {
        let id = NotificationId::from_parts(1_700_000_000_000, 42);
        assert_eq!(NotificationId::parse(&id.to_string().to_lowercase()), Ok(id));
    }

    #[test]
    fn ids_sort_by_time() {
        let a = DeliveryId::from_parts(1_000, u128::MAX >> 48);
        let b = DeliveryId::from_parts(1_001, 0);
        assert!(a < b);
    }

    #[test]
    fn id_round_trips_through_serde() {
        let id = DeviceId::from_parts(5, 6);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: DeviceId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<DeviceId>("\"ntf_01ARZ3NDEKTSV4RRFFQ69G5FAV\"").is_err());
    }
}
