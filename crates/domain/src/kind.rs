//! Notification kinds and priorities (SPEC §3, §5.1).

/// A value was not one of the names an enum accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not {allowed}")]
pub struct UnknownVariant {
    /// The rejected text.
    pub value: String,
    /// The accepted names, comma separated.
    pub allowed: &'static str,
}

/// Declares a wire enum with `SCREAMING_SNAKE_CASE` names: serde, `ALL`, `as_str`, Display, FromStr.
#[macro_export]
#[doc(hidden)]
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (`SCREAMING_SNAKE_CASE`).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::kind::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::kind::UnknownVariant {
                        value: s.to_owned(),
                        allowed: concat!("one of:", $(" ", $text),+),
                    }),
                }
            }
        }
    };
}
pub(crate) use crate::named_enum;

named_enum!(
    /// What a notification is about; decides opt-out and quiet-hours rules.
    Kind {
        /// Mandatory; bypasses quiet hours.
        Security => "SECURITY",
        /// Mandatory; respects quiet hours.
        Transactional => "TRANSACTIONAL",
        /// Optional; respects quiet hours.
        Service => "SERVICE",
        /// Optional; respects quiet hours.
        Marketing => "MARKETING",
    }
);

impl Kind {
    /// Mandatory kinds cannot be opted out of.
    pub const fn is_mandatory(self) -> bool {
        matches!(self, Kind::Security | Kind::Transactional)
    }

    /// Whether quiet hours hold this kind back.
    pub const fn respects_quiet_hours(self) -> bool {
        !matches!(self, Kind::Security)
    }

    /// Kinds whose Kakao deliveries fall back to SMS inside the Kakao night window.
    pub const fn has_kakao_sms_fallback(self) -> bool {
        self.is_mandatory()
    }
}

named_enum!(
    /// Dispatch priority of a notification's deliveries.
    #[derive(Default)]
    Priority {
        /// Dispatched ahead of the others.
        High => "HIGH",
        /// The default.
        #[default]
        Normal => "NORMAL",
        /// Dispatched after the others.
        Low => "LOW",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_wire_names_only() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(*kind));
        }
        let err = "security".parse::<Kind>().unwrap_err();
        assert!(err.to_string().contains("SECURITY"));
    }

    #[test]
    fn only_security_and_transactional_are_mandatory() {
        let mandatory: Vec<Kind> = Kind::ALL.iter().copied().filter(|k| k.is_mandatory()).collect();
        assert_eq!(mandatory, vec![Kind::Security, Kind::Transactional]);
        assert!(!Kind::Security.respects_quiet_hours());
        assert!(Kind::Transactional.respects_quiet_hours());
        assert!(Kind::Marketing.respects_quiet_hours());
    }

    #[test]
    fn priority_defaults_to_normal() {
        assert_eq!(Priority::default(), Priority::Normal);
        assert_eq!(serde_json::to_string(&Priority::High).unwrap(), "\"HIGH\"");
    }
}
