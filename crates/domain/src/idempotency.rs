//! Idempotency keys and request fingerprints (SPEC §5.1, IETF `httpapi-idempotency-key-header`).
//!
//! A replay is only served when the key *and* the fingerprint of the body match the first
//! request; a different fingerprint under the same key is `IDEMPOTENCY_KEY_REUSED`.

use std::fmt;

use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The most characters of content an idempotency key may have.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Why an `Idempotency-Key` header value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    /// The header is empty, blank, or the empty string `""`.
    #[error("Idempotency-Key must not be empty")]
    Empty,
    /// The key has more than 255 characters of content.
    #[error("Idempotency-Key must be at most 255 characters")]
    TooLong,
    /// A character outside printable ASCII (quoted form) or outside the token characters (bare form).
    #[error(
        "Idempotency-Key must be a quoted string of printable ASCII or a token of letters, digits and !#$%&'*+-.^_`|~:/"
    )]
    InvalidCharacters,
    /// A quoted key with a missing closing quote, text after it, or an escape other than `\"` and `\\`.
    #[error(r#"Idempotency-Key is a malformed quoted string (only \" and \\ escapes, nothing after the closing quote)"#)]
    Malformed,
}

/// The value of an Idempotency-Key header: an RFC 8941 sf-string (`"…"`, printable ASCII 0x20-0x7E,
/// only `\"` and `\\` escapes) or a bare token; 1-255 characters of content.
///
/// The bare form is more lenient than an RFC 8941 sf-token: any RFC 9110 `tchar` plus `:` and `/`
/// may appear anywhere, so keys that start with a digit (UUIDs, numeric ids) are accepted as
/// callers send them. The quoted and bare spellings of the same content are the same key
/// (`"abc"` and `abc`): the key is its content, without quotes or escapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header value; surrounding spaces and tabs (OWS) are ignored.
    pub fn parse(header_value: &str) -> Result<Self, IdempotencyKeyError> {
        let value = header_value.trim_matches(|c| c == ' ' || c == '\t');
        let content = match value.strip_prefix('"') {
            Some(quoted) => parse_sf_string_body(quoted)?,
            None => {
                if !value.chars().all(is_bare_key_char) {
                    return Err(IdempotencyKeyError::InvalidCharacters);
                }
                value.to_owned()
            }
        };
        match content.chars().count() {
            0 => Err(IdempotencyKeyError::Empty),
            n if n > MAX_IDEMPOTENCY_KEY_LEN => Err(IdempotencyKeyError::TooLong),
            _ => Ok(Self(content)),
        }
    }

    /// The key's content (unquoted and unescaped).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses what follows the opening `"` of an sf-string, up to and including the closing `"`.
fn parse_sf_string_body(quoted: &str) -> Result<String, IdempotencyKeyError> {
    let mut content = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                return if chars.as_str().is_empty() {
                    Ok(content)
                } else {
                    Err(IdempotencyKeyError::Malformed)
                };
            }
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => content.push(escaped),
                _ => return Err(IdempotencyKeyError::Malformed),
            },
            ' '..='~' => content.push(c),
            _ => return Err(IdempotencyKeyError::InvalidCharacters),
        }
    }
    // The closing quote never came.
    Err(IdempotencyKeyError::Malformed)
}

/// RFC 9110 `tchar`, plus `:` and `/` as RFC 8941 sf-token allows after its first character.
fn is_bare_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:/".contains(c)
}

/// SHA-256 of the canonical JSON of a request body: object keys sorted (by UTF-8 bytes), no
/// whitespace, so key order and formatting do not matter.
///
/// See [`canonical_json`] for the exact form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprints a parsed request body.
    pub fn of_json(value: &Value) -> Self {
        Self(Sha256::digest(canonical_json(value).as_bytes()).into())
    }

    /// The digest as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits (either case) back; anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The canonical JSON text that [`Fingerprint::of_json`] hashes.
///
/// - Object members are sorted by the UTF-8 bytes of their keys — explicitly, so the result does
///   not depend on how `serde_json::Map` happens to be ordered (`preserve_order` may be on).
///   This is not RFC 8785 (JCS), which sorts by UTF-16 code units; the two differ only for keys
///   mixing astral-plane characters with U+E000–U+FFFF.
/// - No whitespace anywhere.
/// - Numbers as [`json_number_text`] writes them: integers as integers, other numbers in
///   serde_json's shortest round-trip float form. `1` and `1.0` are deliberately *different*
///   (JCS would write both as `1`): a template payload renders them differently ("1" vs "1.0"),
///   so the two bodies do not ask for the same notification. `1.50` and `1.5` are the same
///   number and the same text.
/// - Strings escape only what JSON requires: `"` and `\`, control characters below U+0020 as
///   `\b \t \n \f \r` or `\u00xx` (lower-case hex); everything else, including non-ASCII, is
///   written as UTF-8. This is also serde_json's own string form.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&json_number_text(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map.iter().map(|(k, v)| (k.as_str(), v)).collect()),
    }
}

/// Writes an object with its members sorted by key bytes, whatever order they arrive in.
fn write_object(out: &mut String, mut members: Vec<(&str, &Value)>) {
    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as text: integers as integers (`42`, `-7`), anything else in serde_json's
/// shortest round-trip float form (`1.5`, `1.0`, `1e+300`).
///
/// Shared by fingerprints and template rendering so that "the same number" means the same thing
/// to both.
pub fn json_number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        // Not an integer: re-derive the text from the f64 so the form does not depend on
        // serde_json's `arbitrary_precision` feature being on or off.
        n.as_f64().and_then(Number::from_f64).map_or_else(|| n.to_string(), |f| f.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn quoted_and_bare_spellings_are_the_same_key() {
        let bare = IdempotencyKey::parse("abc").unwrap();
        let quoted = IdempotencyKey::parse("\"abc\"").unwrap();
        assert_eq!(bare, quoted);
        assert_eq!(quoted.as_str(), "abc");
    }

    #[test]
    fn uuids_and_keys_starting_with_a_digit_are_accepted_bare() {
        for key in ["8e03978e-40d5-43e8-bc93-6894a57f9324", "42", "order:42/retry", "a.b_c~d|e"] {
            assert_eq!(IdempotencyKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn surrounding_spaces_and_tabs_are_trimmed() {
        assert_eq!(IdempotencyKey::parse(" \tabc \t").unwrap().as_str(), "abc");
        assert_eq!(IdempotencyKey::parse("  \" a b \"  ").unwrap().as_str(), " a b ");
    }

    #[test]
    fn quoted_keys_unescape_quotes_and_backslashes() {
        let key = IdempotencyKey::parse(r#""say \"hi\" \\ bye""#).unwrap();
        assert_eq!(key.as_str(), r#"say "hi" \ bye"#);
    }

    #[test]
    fn empty_keys_are_rejected_in_both_forms() {
        for value in ["", "   ", "\"\"", " \"\" "] {
            assert_eq!(IdempotencyKey::parse(value), Err(IdempotencyKeyError::Empty), "{value:?}");
        }
    }

    #[test]
    fn keys_are_limited_to_255_characters_of_content() {
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(IdempotencyKeyError::TooLong));
        // The quotes and escape backslashes are not content.
        assert!(IdempotencyKey::parse(&format!("\"{}\"", "\\\"".repeat(255))).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&format!("\"{}\"", "q".repeat(256))),
            Err(IdempotencyKeyError::TooLong)
        );
    }

    #[test]
    fn bare_keys_refuse_characters_outside_the_token_set() {
        for value in ["a b", "a,b", "a;b", "a\"b", "a=b", "ключ", "a\u{7f}"] {
            assert_eq!(
                IdempotencyKey::parse(value),
                Err(IdempotencyKeyError::InvalidCharacters),
                "{value:?}"
            );
        }
    }

    #[test]
    fn quoted_keys_refuse_non_printable_or_non_ascii_characters() {
        for value in ["\"a\tb\"", "\"ключ\"", "\"a\u{7f}\""] {
            assert_eq!(
                IdempotencyKey::parse(value),
                Err(IdempotencyKeyError::InvalidCharacters),
                "{value:?}"
            );
        }
    }

    #[test]
    fn malformed_quoting_is_rejected() {
        for value in ["\"abc", "\"abc\"def", "\"a\"b\"", r#""a\nb""#, r#""abc\""#, "\"", r#""a\"#] {
            assert_eq!(IdempotencyKey::parse(value), Err(IdempotencyKeyError::Malformed), "{value:?}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value: Value =
            serde_json::from_str(r#" { "b" : [1, 2.5, {"z":null, "a":true}], "a": "x" } "#).unwrap();
        assert_eq!(canonical_json(&value), r#"{"a":"x","b":[1,2.5,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn object_members_are_sorted_even_when_they_arrive_out_of_order() {
        let one = json!(1);
        let two = json!({"y": 2, "x": 1});
        let mut forward = String::new();
        write_object(&mut forward, vec![("a", &one), ("b", &two), ("é", &one), ("B", &one)]);
        let mut backward = String::new();
        write_object(&mut backward, vec![("é", &one), ("b", &two), ("a", &one), ("B", &one)]);
        assert_eq!(forward, backward);
        assert_eq!(forward, r#"{"B":1,"a":1,"b":{"x":1,"y":2},"é":1}"#);
    }

    #[test]
    fn keys_sort_by_utf8_bytes() {
        // U+FF61 (EF BD A1) sorts before U+1F600 (F0 9F 98 80) by UTF-8 bytes (JCS would differ).
        let value = json!({"\u{1F600}": 1, "\u{FF61}": 2, "Z": 3, "a": 4});
        assert_eq!(canonical_json(&value), "{\"Z\":3,\"a\":4,\"\u{FF61}\":2,\"\u{1F600}\":1}");
    }

    #[test]
    fn numbers_keep_the_difference_between_integers_and_floats() {
        // Stored fingerprints outlive a deploy: if a serde_json upgrade changes how floats are
        // written (older versions wrote `1e300`), this test must fail before fingerprints change.
        let value: Value = serde_json::from_str(
            "[1, 1.0, 1.50, -0, -7, 18446744073709551615, 1e300, 0.1, 1e-7, 123456789.125]",
        )
        .unwrap();
        assert_eq!(
            canonical_json(&value),
            "[1,1.0,1.5,-0.0,-7,18446744073709551615,1e+300,0.1,1e-7,123456789.125]"
        );
        assert_ne!(Fingerprint::of_json(&json!({"n": 1})), Fingerprint::of_json(&json!({"n": 1.0})));
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let value = json!("q\" b\\ \u{8}\u{c}\n\r\t \u{1} \u{1f} / é \u{2028} \u{7f}");
        assert_eq!(
            canonical_json(&value),
            "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001 \\u001f / é \u{2028} \u{7f}\""
        );
    }

    #[test]
    fn fingerprint_matches_a_known_sha256_vector() {
        // python3 -c 'import hashlib;print(hashlib.sha256(b"{\"a\":[true,null,\"x\"],\"b\":1}").hexdigest())'
        let value: Value = serde_json::from_str(r#"{"b": 1, "a": [true, null, "x"]}"#).unwrap();
        assert_eq!(canonical_json(&value), r#"{"a":[true,null,"x"],"b":1}"#);
        assert_eq!(
            Fingerprint::of_json(&value).to_hex(),
            "54a65415ad370228851a1da4b31b6fd42dc58b19a50d35cae759325f7388ce64"
        );
    }

    #[test]
    fn fingerprints_round_trip_through_hex() {
        let fp = Fingerprint::of_json(&json!({"a": 1}));
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(Fingerprint::from_hex(&fp.to_hex().to_uppercase()), Some(fp));
        assert_eq!(Fingerprint::from_hex("abc"), None);
        assert_eq!(Fingerprint::from_hex(&"g".repeat(64)), None);
        assert_eq!(Fingerprint::from_hex(&"a".repeat(66)), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            // serde_json's default float parser can be off by one ulp; keep floats that survive a
            // text round trip, as a body re-sent by a client would.
            any::<f64>()
                .prop_filter("finite and round-trips", |f| {
                    f.is_finite()
                        && serde_json::from_str::<f64>(&serde_json::to_string(f).unwrap()).ok() == Some(*f)
                })
                .prop_map(Value::from),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((".{0,6}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Writes `value` as JSON text with object members in a shuffled order and random whitespace.
    fn write_scrambled(value: &Value, rng: &mut impl FnMut() -> usize, out: &mut String) {
        let ws = |rng: &mut dyn FnMut() -> usize, out: &mut String| {
            out.push_str([" ", "", "\n  ", "\t", "", "\r\n"][rng() % 6]);
        };
        ws(rng, out);
        match value {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_scrambled(item, rng, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut members: Vec<_> = map.iter().collect();
                for i in (1..members.len()).rev() {
                    members.swap(i, rng() % (i + 1));
                }
                out.push('{');
                for (i, (k, v)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    ws(rng, out);
                    out.push_str(&serde_json::to_string(k).unwrap());
                    ws(rng, out);
                    out.push(':');
                    write_scrambled(v, rng, out);
                }
                out.push('}');
            }
            leaf => out.push_str(&serde_json::to_string(leaf).unwrap()),
        }
        ws(rng, out);
    }

    fn count_leaves(value: &Value) -> usize {
        match value {
            Value::Array(items) => items.iter().map(count_leaves).sum(),
            Value::Object(map) => map.values().map(count_leaves).sum(),
            _ => 1,
        }
    }

    /// Changes the `n`-th leaf (in document order) so the value is different.
    fn mutate_leaf(value: &mut Value, n: &mut usize) -> bool {
        match value {
            Value::Array(items) => items.iter_mut().any(|item| mutate_leaf(item, n)),
            Value::Object(map) => map.values_mut().any(|item| mutate_leaf(item, n)),
            _ if *n > 0 => {
                *n -= 1;
                false
            }
            leaf => {
                *leaf = match leaf.take() {
                    Value::Null => Value::Bool(false),
                    Value::Bool(b) => Value::Bool(!b),
                    Value::String(s) => Value::String(s + "x"),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) if i > i64::MIN => Value::from(i - 1),
                        _ => Value::Null,
                    },
                    other => other,
                };
                true
            }
        }
    }

    proptest! {
        #[test]
        fn member_order_and_whitespace_do_not_change_the_fingerprint(value in arb_json(), seed in any::<u64>()) {
            let mut state = seed | 1;
            let mut rng = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 8) as usize
            };
            let mut text = String::new();
            write_scrambled(&value, &mut rng, &mut text);
            let reparsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(Fingerprint::of_json(&reparsed), Fingerprint::of_json(&value));
        }

        #[test]
        fn changing_any_leaf_changes_the_fingerprint(value in arb_json(), pick in any::<usize>()) {
            let leaves = count_leaves(&value);
            prop_assume!(leaves > 0);
            let mut changed = value.clone();
            prop_assert!(mutate_leaf(&mut changed, &mut (pick % leaves)));
            prop_assert_ne!(&changed, &value);
            prop_assert_ne!(Fingerprint::of_json(&changed), Fingerprint::of_json(&value));
        }

        #[test]
        fn different_values_have_different_fingerprints(a in arb_json(), b in arb_json()) {
            prop_assume!(a != b);
            prop_assert_ne!(Fingerprint::of_json(&a), Fingerprint::of_json(&b));
        }

        #[test]
        fn canonical_json_is_valid_json_for_the_same_value(value in arb_json()) {
            let text = canonical_json(&value);
            let reparsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&reparsed, &value);
            prop_assert_eq!(canonical_json(&reparsed), text);
        }

        #[test]
        fn strings_are_escaped_like_serde_json_does(s in any::<String>()) {
            prop_assert_eq!(canonical_json(&Value::String(s.clone())), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn bare_keys_of_token_characters_parse_to_themselves(key in "[A-Za-z0-9!#$%&'*+.^_`|~:/-]{1,255}") {
            let bare = IdempotencyKey::parse(&key).unwrap();
            prop_assert_eq!(bare.as_str(), key.as_str());
            let quoted = IdempotencyKey::parse(&format!("\"{key}\"")).unwrap();
            prop_assert_eq!(quoted, bare);
        }

        #[test]
        fn parsing_never_panics(value in any::<String>()) {
            let _ = IdempotencyKey::parse(&value);
        }
    }
}
