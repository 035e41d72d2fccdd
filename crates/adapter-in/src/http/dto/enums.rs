//! Wire enums mirroring the domain's: they carry the OpenAPI schema and convert both ways with
//! exhaustive matches, so a new domain variant fails to compile here until the API decides.

use hub_domain as domain;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident = $module:ident :: $domain:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        // `rename_all` rather than a `rename` per variant: utoipa does not read literals that come
        // through a macro fragment, and the names are the variants' in SCREAMING_SNAKE_CASE anyway
        // (checked against the domain by the test below and by the OpenAPI test).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub(crate) enum $name {
            $($variant),+
        }

        impl From<$name> for $module::$domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => $module::$domain::$variant),+ }
            }
        }

        impl From<$module::$domain> for $name {
            fn from(value: $module::$domain) -> Self {
                match value { $($module::$domain::$variant => $name::$variant),+ }
            }
        }
    };
}

// The admin API declares its own wire enums with it (`http::admin::dto`).
pub(crate) use wire_enum;

wire_enum!(
    /// What a notification is about (SPEC §3).
    Kind = domain::Kind {
        Security,
        Transactional,
        Service,
        Marketing,
    }
);

wire_enum!(
    /// A delivery channel, in canonical order (SPEC §3).
    Channel = domain::Channel {
        Push,
        Email,
        Sms,
        KakaoAlimtalk,
        Slack,
        InApp,
    }
);

wire_enum!(
    /// Dispatch priority (default NORMAL).
    Priority = domain::Priority {
        High,
        Normal,
        Low,
    }
);

wire_enum!(
    /// Push device platform (SPEC §5.4).
    Platform = domain::Platform {
        Android,
        Ios,
        Web,
    }
);

wire_enum!(
    /// A notification's derived status (SPEC §5.1).
    NotificationStatus = domain::NotificationStatus {
        Suppressed,
        Scheduled,
        InProgress,
        Completed,
        PartiallyFailed,
        Failed,
        Cancelled,
    }
);

wire_enum!(
    /// Where a delivery stands (SPEC §3).
    DeliveryStatus = domain::DeliveryStatus {
        Pending,
        Dispatching,
        Sent,
        Delivered,
        Exhausted,
        Discarded,
        Cancelled,
    }
);

wire_enum!(
    /// Why a channel was skipped or a delivery deferred (SPEC §3).
    Reason = domain::Reason {
        OptedOut,
        ChannelNotAllowed,
        NoAddress,
        NoActiveDevice,
        QuietHours,
        KakaoNight,
        Expired,
        Scheduled,
    }
);

wire_enum!(
    /// How one dispatch try ended.
    TryOutcome = domain::TryOutcome {
        Sent,
        Failed,
        LeaseExpired,
    }
);

wire_enum!(
    /// Why a try failed.
    ErrorClass = domain::ErrorClass {
        Transient,
        Timeout,
        RateLimited,
        LeaseExpired,
        Permanent,
        Unregistered,
        Bounced,
        Configuration,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn same_names<W: Serialize + Copy, D: Serialize>(wire: &[W], to_domain: impl Fn(W) -> D) {
        for w in wire {
            assert_eq!(serde_json::to_value(w).unwrap(), serde_json::to_value(to_domain(*w)).unwrap());
        }
    }

    #[test]
    fn wire_enums_spell_every_variant_like_the_domain() {
        let kinds: Vec<Kind> = domain::Kind::ALL.iter().map(|k| (*k).into()).collect();
        same_names(&kinds, domain::Kind::from);
        let channels: Vec<Channel> = domain::Channel::ALL.iter().map(|c| (*c).into()).collect();
        same_names(&channels, domain::Channel::from);
        let priorities: Vec<Priority> = domain::Priority::ALL.iter().map(|p| (*p).into()).collect();
        same_names(&priorities, domain::Priority::from);
        let platforms: Vec<Platform> = domain::Platform::ALL.iter().map(|p| (*p).into()).collect();
        same_names(&platforms, domain::Platform::from);
        let statuses: Vec<NotificationStatus> =
            domain::NotificationStatus::ALL.iter().map(|s| (*s).into()).collect();
        same_names(&statuses, domain::NotificationStatus::from);
        let deliveries: Vec<DeliveryStatus> =
            domain::DeliveryStatus::ALL.iter().map(|s| (*s).into()).collect();
        same_names(&deliveries, domain::DeliveryStatus::from);
        let reasons: Vec<Reason> = domain::Reason::ALL.iter().map(|r| (*r).into()).collect();
        same_names(&reasons, domain::Reason::from);
        let outcomes: Vec<TryOutcome> = domain::TryOutcome::ALL.iter().map(|o| (*o).into()).collect();
        same_names(&outcomes, domain::TryOutcome::from);
        let classes: Vec<ErrorClass> = domain::ErrorClass::ALL.iter().map(|c| (*c).into()).collect();
        same_names(&classes, domain::ErrorClass::from);
    }
}
