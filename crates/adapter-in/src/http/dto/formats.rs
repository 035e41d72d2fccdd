//! OpenAPI schemas of the text formats the API parses (schema only, nothing is deserialized into
//! these): typed ids, recipient ids, device tokens, template keys, locales and the
//! `Idempotency-Key` header. Each pattern accepts exactly what the domain's parser accepts (the
//! locale parser also trims surrounding whitespace), so a client — and the API fuzzer
//! (`scripts/api-fuzz.sh`) — can tell a well-formed value from one the API answers 400. The
//! tests below hold every pattern to its parser.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema with a pattern, a description and an example.
fn text(pattern: &str, description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([example])
}

/// Declares a named schema for one text format.
macro_rules! format_schema {
    ($(#[$meta:meta])* $name:ident => $schema:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// Declares the schema of a typed id: its prefix and a ULID whose first digit is at most 7
/// (26 base-32 digits hold 130 bits, a ULID 128; Crockford letters in either case).
macro_rules! id_schema {
    ($(#[$meta:meta])* $name:ident = $prefix:literal, $what:literal) => {
        format_schema!(
            $(#[$meta])*
            $name => text(
                concat!("^", $prefix, "[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"),
                concat!(
                    "A ", $what, " id: `", $prefix, "` and a ULID (upper case as the API writes it; ",
                    "lower case is read too)."
                ),
                concat!($prefix, "01KF0C9F4G0000000000000002"),
            )
        );
    };
}

id_schema!(
    /// `ntf_…`.
    NotificationId = "ntf_", "notification"
);
id_schema!(
    /// `dlv_…`.
    DeliveryId = "dlv_", "delivery"
);
id_schema!(
    /// `tpl_…`.
    TemplateId = "tpl_", "template"
);
id_schema!(
    /// `dev_…`.
    DeviceId = "dev_", "device"
);
id_schema!(
    /// `job_…`.
    JobId = "job_", "bulk job"
);

format_schema!(
    /// The caller's id of a recipient (`hub_domain::RecipientId::parse`): 1–128 characters, none
    /// of them whitespace or a control character (Unicode `White_Space`, `Cc`) or `/`.
    RecipientId => text(
        r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000/]{1,128}$",
        "The caller's id of a recipient: 1–128 characters without whitespace, control characters or `/`.",
        "user-42",
    )
    .min_length(Some(1))
    .max_length(Some(128))
);

format_schema!(
    /// A push device token (`hub_domain::DeviceToken::parse`): 32–4096 characters, none of them
    /// whitespace or a control character.
    DeviceToken => text(
        r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{32,4096}$",
        "The vendor's push token: 32–4096 characters without whitespace or control characters.",
        "fcm-token-0123456789abcdefghijklmnopqrstuvwxyz",
    )
    .min_length(Some(32))
    .max_length(Some(4096))
);

format_schema!(
    /// A template key (`hub_domain::template::TemplateKey::parse`).
    TemplateKey => text(
        r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        "Dot-separated lower-case segments, at most 128 characters.",
        "order.shipped",
    )
    .max_length(Some(128))
);

format_schema!(
    /// A locale tag (`hub_domain::Locale::parse`, which also trims surrounding whitespace; the
    /// document describes the tag itself).
    Locale => text(
        r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$",
        "A BCP 47 tag: a language of 2–3 letters, then subtags of 1–8 letters or digits, separated by \
         `-` or `_`, in any case (stored in lower case with `-`); at most 35 characters.",
        "en-us",
    )
    .max_length(Some(35))
);

format_schema!(
    /// The `Idempotency-Key` header (`hub_domain::idempotency::IdempotencyKey::parse`).
    IdempotencyKey => text(
        r#"^(?:[A-Za-z0-9!#$%&'*+.^_`|~:/-]{1,255}|"(?:[ !#-\[\]-~]|\\["\\]){1,255}")$"#,
        "1–255 characters of content: a bare token (letters, digits and !#$%&'*+-.^_`|~:/) or an RFC 8941 \
         quoted string of printable ASCII (only \\\" and \\\\ escapes). Scoped per caller.",
        "order-7f3a2c",
    )
);

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    fn pattern<T: PartialSchema>() -> regex::Regex {
        let RefOr::T(Schema::Object(object)) = T::schema() else { panic!("an inline object schema") };
        regex::Regex::new(object.pattern.as_deref().expect("a pattern")).expect("a valid pattern")
    }

    #[test]
    fn id_patterns_accept_exactly_what_the_id_parsers_accept() {
        let re = pattern::<NotificationId>();
        for text in [
            "ntf_01KF0C9F4G0000000000000002",
            "ntf_7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "ntf_01kf0c9f4g0000000000000002",
            "ntf_8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "ntf_01KF0C9F4G000000000000000",
            "ntf_01KF0C9F4G00000000000000U2",
            "ntf_01KF0C9F4G0000000000000002 ",
            "dlv_01KF0C9F4G0000000000000002",
            "",
        ] {
            assert_eq!(re.is_match(text), hub_domain::NotificationId::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn the_recipient_id_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = pattern::<RecipientId>();
        let long = "x".repeat(129);
        for text in [
            "alice",
            "user-42",
            "ü日本",
            "a.b:c@d",
            "",
            "a b",
            "a/b",
            "a\tb",
            "a\u{85}b",
            "a\u{a0}b",
            "a\u{3000}b",
            "a\u{7f}b",
            "a\u{9f}b",
            "a\u{200b}b",
            "a\u{feff}b",
            "%2F",
            &long[1..],
            &long,
        ] {
            let parsed = hub_domain::RecipientId::parse(text).is_ok();
            assert_eq!(re.is_match(text), parsed, "{text:?}");
        }
    }

    #[test]
    fn the_device_token_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = pattern::<DeviceToken>();
        let token = "t".repeat(32);
        let long = "t".repeat(4097);
        for text in [
            token.clone(),
            format!("ü{}", &token[1..]),
            token[1..].to_owned(),
            format!("{} ", &token[1..]),
            format!("{}\u{2028}", &token[1..]),
            format!("{}\u{1}", &token[1..]),
            long[1..].to_owned(),
            long,
        ] {
            let parsed = hub_domain::DeviceToken::parse(&text).is_ok();
            assert_eq!(re.is_match(&text), parsed, "{text:?}");
        }
    }

    #[test]
    fn the_template_key_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = pattern::<TemplateKey>();
        for text in [
            "order.shipped",
            "a.b.c_1",
            "order",
            "Order.shipped",
            "order..shipped",
            "order.1x",
            ".a.b",
            "a.b.",
        ] {
            let parsed = hub_domain::template::TemplateKey::parse(text).is_ok();
            assert_eq!(re.is_match(text), parsed, "{text:?}");
        }
    }

    #[test]
    fn the_locale_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = pattern::<Locale>();
        let long = format!("en{}", "-abcdefgh".repeat(4));
        for text in
            ["en", "en-US", "en_us", "zh-Hant-TW", "e", "engl", "en-", "en--us", "en-abcdefghi", "1en", &long]
        {
            let parsed = hub_domain::Locale::parse(text).is_ok();
            assert_eq!(re.is_match(text) && text.len() <= 35, parsed, "{text:?}");
        }
    }

    #[test]
    fn the_idempotency_key_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = pattern::<IdempotencyKey>();
        let long = "k".repeat(256);
        for text in [
            "abc",
            "7f3a-2c:x/y",
            r#""a quoted key""#,
            r#""with \" and \\""#,
            "",
            r#""""#,
            "a b",
            "é",
            r#""unterminated"#,
            r#""bad \n escape""#,
            r#""x" trailing"#,
            &long[1..],
            &long,
        ] {
            let parsed = hub_domain::idempotency::IdempotencyKey::parse(text).is_ok();
            assert_eq!(re.is_match(text), parsed, "{text:?}");
        }
    }
}
