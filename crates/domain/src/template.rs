//! Message templates: keys, rendering and channel limits (SPEC §5.3).
//!
//! Templates are Mustache, rendered by the `mustache` crate. A small scanner of our own reads
//! the template text first, for what the crate does not do:
//!
//! - the single-brace shorthand `{name}` is a variable, like `{{name}}`. Only `{` + identifier +
//!   `}` is one; any other `{` is literal text (`{ "a": 1 }` stays as it is);
//! - a variable the payload lacks is an error naming it, instead of rendering as nothing;
//! - output is not HTML-escaped, except in EMAIL bodies that are HTML ([`is_html_body`]);
//! - partials (`{{> name}}`) and delimiter changes (`{{=<% %>=}}`) are refused: partials would
//!   make the crate read files, and a delimiter change would hide tags from the scanner.
//!
//! Variable and section names are identifiers: an ASCII letter or `_`, then letters, digits or
//! `_`. The payload is flat, so dotted names (`{{user.name}}`) are refused at registration.
//!
//! **Sections.** `{{#flag}}…{{/flag}}` renders when the payload's `flag` is truthy and
//! `{{^flag}}…{{/flag}}` when it is not. Truthy means: `true`, a non-empty string, or a non-zero
//! number; a flag absent from the payload is falsy (optional sections are what sections are for).
//! Variables inside a section are required only when the section renders.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use mustache::Data;

use crate::channel::Channel;
use crate::idempotency::json_number_text;
use crate::recipient::Locale;

/// Longest template key, in characters.
pub const MAX_TEMPLATE_KEY_LEN: usize = 128;
/// Longest title on any channel, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest body on any channel, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest SMS body, in characters.
pub const MAX_SMS_BODY_CHARS: usize = 2000;
/// Longest Kakao AlimTalk body, in characters.
pub const MAX_KAKAO_BODY_CHARS: usize = 1000;
/// Longest PUSH title and body together, in UTF-8 bytes.
pub const MAX_PUSH_BYTES: usize = 4096;
/// SMS bodies longer than this many bytes (EUC-KR estimate) are sent as LMS.
pub const SMS_SHORT_MAX_BYTES: usize = 90;

/// Why a template, a key or a rendered message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is not valid (the message says where: `title: …` or `body: …`).
    #[error("template syntax: {0}")]
    Syntax(String),
    /// The payload lacks a variable the template uses (the first one, title before body).
    #[error("template variable `{0}` is missing from the payload")]
    MissingVariable(String),
    /// A field is over its channel limit (`field` is `title`, `body` or `title+body`).
    #[error("{field} is too long: {actual} > {limit}")]
    TooLong {
        /// `title`, `body` or `title+body` (PUSH).
        field: &'static str,
        /// The limit (characters, or UTF-8 bytes for `title+body`).
        limit: usize,
        /// The measured size, in the same unit.
        actual: usize,
    },
    /// A template key does not match `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$` or is over 128 characters.
    #[error(
        "template key must be dot-separated lower-case segments such as `order.shipped`, at most 128 characters"
    )]
    InvalidKey,
    /// The body is empty or blank (before or after rendering).
    #[error("body must not be empty")]
    EmptyBody,
}

/// A template key such as `order.shipped`: `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`, at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TemplateKey(String);

impl TemplateKey {
    /// Parses a key.
    pub fn parse(s: &str) -> Result<Self, TemplateError> {
        let segment_ok = |seg: &str| {
            let mut bytes = seg.bytes();
            bytes.next().is_some_and(|b| b.is_ascii_lowercase())
                && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if s.len() <= MAX_TEMPLATE_KEY_LEN && s.split('.').count() >= 2 && s.split('.').all(segment_ok) {
            Ok(Self(s.to_owned()))
        } else {
            Err(TemplateError::InvalidKey)
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One payload value: templates take strings, numbers and booleans only.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadValue {
    /// Rendered as is.
    String(String),
    /// Rendered as written in JSON: `42`, `1.5`, `1.0`.
    Number(serde_json::Number),
    /// Rendered as `true` / `false`.
    Bool(bool),
}

impl PayloadValue {
    /// Converts a JSON scalar; `null`, arrays and objects are `None`.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(s) => Some(Self::String(s.clone())),
            serde_json::Value::Number(n) => Some(Self::Number(n.clone())),
            serde_json::Value::Bool(b) => Some(Self::Bool(*b)),
            _ => None,
        }
    }

    /// The JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::Number(n) => serde_json::Value::Number(n.clone()),
            Self::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// Whether a section on this value renders: `true`, a non-empty string or a non-zero number.
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::String(s) => !s.is_empty(),
            Self::Number(n) => n.as_f64().is_none_or(|f| f != 0.0),
            Self::Bool(b) => *b,
        }
    }
}

impl fmt::Display for PayloadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Number(n) => f.write_str(&json_number_text(n)),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Template variables by name.
pub type Payload = BTreeMap<String, PayloadValue>;

/// A rendered message, within its channel's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedContent {
    /// The rendered title, if the template has one.
    pub title: Option<String>,
    /// The rendered body.
    pub body: String,
    /// SMS body over 90 bytes (EUC-KR estimate: ASCII 1 byte, other 2): send as LMS.
    pub lms: bool,
}

/// Whether an EMAIL body is HTML, so its `{{var}}` output is HTML-escaped.
///
/// A body is HTML when it contains something that starts a tag: `<` followed by an ASCII letter,
/// `/` or `!` (`<p>`, `</b>`, `<!DOCTYPE html>`, `<br/>`). This errs towards escaping: a
/// plain-text e-mail with `<name@example.com>` in it gets escaped variables, which is harmless,
/// while an HTML body that starts with text (`Hi {{name}},<br>…`) still gets them escaped, which
/// a "starts with `<`" rule would miss. Decided on the template text, never on rendered output.
pub fn is_html_body(body: &str) -> bool {
    body.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
}

/// Checks syntax and the channel limits of the template text at registration.
pub fn validate_template(channel: Channel, title: Option<&str>, body: &str) -> Result<(), TemplateError> {
    if let Some(title) = title {
        Parsed::new("title", title, false)?;
    }
    Parsed::new("body", body, escape_body(channel, body))?;
    check_limits(channel, title, body).map(|_| ())
}

/// Renders title/body with the payload; errors name the first missing variable; then checks the
/// channel limits on the output.
pub fn render(
    channel: Channel,
    title: Option<&str>,
    body: &str,
    payload: &Payload,
) -> Result<RenderedContent, TemplateError> {
    let title = title.map(|t| Parsed::new("title", t, false)).transpose()?;
    let body_template = Parsed::new("body", body, escape_body(channel, body))?;
    if let Some(title) = &title {
        title.check_variables(payload)?;
    }
    body_template.check_variables(payload)?;
    let data = mustache_data(payload);
    let title = title.map(|t| t.render(&data)).transpose()?;
    let body = body_template.render(&data)?;
    let lms = check_limits(channel, title.as_deref(), &body)?;
    Ok(RenderedContent { title, body, lms })
}

/// Checks the channel limits on already-final text (used for direct title/body sends too).
///
/// Returns whether an SMS body must go as LMS (always `false` for other channels). Characters
/// are Unicode scalar values. Limits: title ≤ 200 and body ≤ 4000 characters everywhere; SMS
/// body ≤ 2000 and KAKAO_ALIMTALK body ≤ 1000 characters; PUSH title + body ≤ 4096 UTF-8 bytes.
/// A blank body is [`TemplateError::EmptyBody`].
pub fn check_limits(channel: Channel, title: Option<&str>, body: &str) -> Result<bool, TemplateError> {
    if body.trim().is_empty() {
        return Err(TemplateError::EmptyBody);
    }
    if let Some(title) = title {
        let actual = title.chars().count();
        if actual > MAX_TITLE_CHARS {
            return Err(TemplateError::TooLong { field: "title", limit: MAX_TITLE_CHARS, actual });
        }
    }
    let body_limit = match channel {
        Channel::Sms => MAX_SMS_BODY_CHARS,
        Channel::KakaoAlimtalk => MAX_KAKAO_BODY_CHARS,
        _ => MAX_BODY_CHARS,
    };
    let actual = body.chars().count();
    if actual > body_limit {
        return Err(TemplateError::TooLong { field: "body", limit: body_limit, actual });
    }
    if channel == Channel::Push {
        let actual = title.map_or(0, str::len) + body.len();
        if actual > MAX_PUSH_BYTES {
            return Err(TemplateError::TooLong { field: "title+body", limit: MAX_PUSH_BYTES, actual });
        }
    }
    Ok(channel == Channel::Sms && euc_kr_len_estimate(body) > SMS_SHORT_MAX_BYTES)
}

/// Estimated EUC-KR length: 1 byte per ASCII character, 2 for any other.
pub fn euc_kr_len_estimate(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// Candidate locales in order: exact (en-us), language (en), default; without repeats.
///
/// Longer tags are truncated one subtag at a time, as RFC 4647 lookup does
/// (`zh-hant-tw` → `zh-hant` → `zh`), so the language is still tried before the default.
pub fn locale_fallback_chain(requested: &Locale, default: &Locale) -> Vec<Locale> {
    let mut chain: Vec<Locale> = Vec::new();
    let mut push = |locale: Locale| {
        if !chain.contains(&locale) {
            chain.push(locale);
        }
    };
    let subtags: Vec<&str> = requested.as_str().split('-').collect();
    for n in (1..=subtags.len()).rev() {
        // Never stop on a single-character subtag (the `x` of `en-x-foo`).
        if n < subtags.len() && subtags[n - 1].len() == 1 {
            continue;
        }
        if let Ok(locale) = Locale::parse(&subtags[..n].join("-")) {
            push(locale);
        }
    }
    push(default.clone());
    chain
}

fn escape_body(channel: Channel, body: &str) -> bool {
    channel == Channel::Email && is_html_body(body)
}

/// Data keys the scanner's rewrite uses besides the payload's own names. They contain `?` or
/// `%`, which identifiers cannot, so they never collide with payload names.
const LBRACE_KEY: &str = "%lbrace";

fn section_key(name: &str) -> String {
    format!("?{name}")
}

/// Builds the mustache data: every payload value as text under its name (for `{{name}}`), and
/// its truthiness as a boolean under `?name` (for `{{#name}}`). The crate cannot print a boolean
/// and treats every non-empty string as true, hence the two keys.
fn mustache_data(payload: &Payload) -> Data {
    let mut map: HashMap<String, Data> = HashMap::with_capacity(payload.len() * 2 + 1);
    // Names that are not identifiers cannot be referenced, and must not shadow the `?`/`%` keys.
    for (name, value) in payload.iter().filter(|(name, _)| is_identifier(name)) {
        map.insert(name.clone(), Data::String(value.to_string()));
        map.insert(section_key(name), Data::Bool(value.is_truthy()));
    }
    map.insert(LBRACE_KEY.to_owned(), Data::String("{".to_owned()));
    Data::Map(map)
}

/// A template read by the scanner and rewritten for the mustache crate.
struct Parsed {
    nodes: Vec<Node>,
    template: mustache::Template,
}

#[derive(Debug)]
enum Node {
    Var(String),
    Section { name: String, inverted: bool, children: Vec<Node> },
}

impl Parsed {
    /// Scans `text`, rewrites it to plain mustache and compiles it.
    fn new(field: &'static str, text: &str, html_escape: bool) -> Result<Self, TemplateError> {
        let syntax = |message: String| TemplateError::Syntax(format!("{field}: {message}"));
        let mut source = String::with_capacity(text.len() + 16);
        // Stack of open sections: (name, inverted, children so far); the bottom is the root.
        let mut stack: Vec<(String, bool, Vec<Node>)> = vec![(String::new(), false, Vec::new())];
        let mut rest = text;
        while let Some(pos) = rest.find('{') {
            source.push_str(&rest[..pos]);
            let at = &rest[pos..];
            let children = &mut stack.last_mut().expect("root is never popped").2;
            if let Some(inner) = at.strip_prefix("{{{") {
                let end = inner.find("}}}").ok_or_else(|| syntax("`{{{` without a closing `}}}`".into()))?;
                let name = identifier(&inner[..end]).map_err(syntax)?;
                push_var(&mut source, children, name, false);
                rest = &inner[end + 3..];
            } else if let Some(inner) = at.strip_prefix("{{") {
                let end = inner.find("}}").ok_or_else(|| syntax("`{{` without a closing `}}`".into()))?;
                let tag = &inner[..end];
                rest = &inner[end + 2..];
                match tag.trim_start().chars().next() {
                    Some('!') => {
                        // Kept so mustache strips a comment on its own line as the spec says.
                        source.push_str("{{!}}");
                    }
                    Some('&') => {
                        let name = identifier(&tag.trim_start()[1..]).map_err(syntax)?;
                        push_var(&mut source, children, name, false);
                    }
                    Some(sigil @ ('#' | '^')) => {
                        let name = identifier(&tag.trim_start()[1..]).map_err(syntax)?;
                        source.push_str(&format!("{{{{{sigil}{}}}}}", section_key(&name)));
                        stack.push((name, sigil == '^', Vec::new()));
                    }
                    Some('/') => {
                        let name = identifier(&tag.trim_start()[1..]).map_err(syntax)?;
                        if stack.len() == 1 {
                            return Err(syntax(format!(
                                "`{{{{/{name}}}}}` closes a section that is not open"
                            )));
                        }
                        let (open, inverted, children) = stack.pop().expect("checked above");
                        if open != name {
                            return Err(syntax(format!("section `{open}` is closed by `{{{{/{name}}}}}`")));
                        }
                        source.push_str(&format!("{{{{/{}}}}}", section_key(&name)));
                        let parent = &mut stack.last_mut().expect("root is never popped").2;
                        parent.push(Node::Section { name, inverted, children });
                    }
                    Some('>') => return Err(syntax("partials (`{{> name}}`) are not supported".into())),
                    Some('=') => return Err(syntax("changing delimiters (`{{=`) is not supported".into())),
                    _ => {
                        let name = identifier(tag).map_err(syntax)?;
                        push_var(&mut source, children, name, html_escape);
                    }
                }
            } else if let Some(name) = shorthand(at) {
                let len = name.len() + 2;
                push_var(&mut source, children, name.to_owned(), html_escape);
                rest = &at[len..];
            } else {
                // A literal `{`. Written through a variable so it can never join a following tag
                // into `{{{`.
                source.push_str(&format!("{{{{&{LBRACE_KEY}}}}}"));
                rest = &at[1..];
            }
        }
        source.push_str(rest);
        if stack.len() > 1 {
            let (open, ..) = stack.pop().expect("checked above");
            return Err(syntax(format!("section `{open}` is not closed")));
        }
        let (_, _, nodes) = stack.pop().expect("root");
        let template = mustache::compile_str(&source).map_err(|e| syntax(e.to_string()))?;
        Ok(Self { nodes, template })
    }

    /// The first variable the rendering needs and the payload lacks.
    fn check_variables(&self, payload: &Payload) -> Result<(), TemplateError> {
        fn walk(nodes: &[Node], payload: &Payload) -> Result<(), TemplateError> {
            for node in nodes {
                match node {
                    Node::Var(name) if !payload.contains_key(name) => {
                        return Err(TemplateError::MissingVariable(name.clone()));
                    }
                    Node::Var(_) => {}
                    Node::Section { name, inverted, children } => {
                        let truthy = payload.get(name).is_some_and(PayloadValue::is_truthy);
                        if truthy != *inverted {
                            walk(children, payload)?;
                        }
                    }
                }
            }
            Ok(())
        }
        walk(&self.nodes, payload)
    }

    fn render(&self, data: &Data) -> Result<String, TemplateError> {
        self.template.render_data_to_string(data).map_err(|e| TemplateError::Syntax(e.to_string()))
    }
}

/// Writes a variable tag; unescaped unless `html_escape`.
fn push_var(source: &mut String, nodes: &mut Vec<Node>, name: String, html_escape: bool) {
    if html_escape {
        source.push_str(&format!("{{{{{name}}}}}"));
    } else {
        source.push_str(&format!("{{{{&{name}}}}}"));
    }
    nodes.push(Node::Var(name));
}

/// The identifier in a tag, allowing spaces around it.
fn identifier(tag: &str) -> Result<String, String> {
    let name = tag.trim();
    if is_identifier(name) {
        Ok(name.to_owned())
    } else if name.is_empty() {
        Err("empty tag".to_owned())
    } else {
        Err(format!("`{name}` is not a variable name (letters, digits and _, not starting with a digit)"))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `{name}` at the start of `at` (which starts with a single `{`): the name.
fn shorthand(at: &str) -> Option<&str> {
    let inner = at.strip_prefix('{')?;
    let end = inner.find('}')?;
    let name = &inner[..end];
    is_identifier(name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload(entries: &[(&str, PayloadValue)]) -> Payload {
        entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn s(text: &str) -> PayloadValue {
        PayloadValue::String(text.to_owned())
    }

    fn num(json: &str) -> PayloadValue {
        PayloadValue::Number(serde_json::from_str(json).unwrap())
    }

    fn body(channel: Channel, template: &str, payload: &Payload) -> Result<String, TemplateError> {
        render(channel, None, template, payload).map(|r| r.body)
    }

    fn locale(tag: &str) -> Locale {
        Locale::parse(tag).unwrap()
    }

    #[test]
    fn double_brace_and_shorthand_variables_both_render() {
        let p = payload(&[("name", s("Ada")), ("order_id", s("A-1"))]);
        assert_eq!(
            body(Channel::Sms, "Hi {{name}}, order {order_id} { name } {{ name }}", &p).unwrap(),
            "Hi Ada, order A-1 { name } Ada"
        );
    }

    #[test]
    fn braces_that_are_not_shorthand_stay_literal() {
        let p = payload(&[("x", s("X"))]);
        for (template, expected) in [
            (r#"{"a": 1}"#, r#"{"a": 1}"#),
            ("{}", "{}"),
            ("{1x}", "{1x}"),
            ("a } b", "a } b"),
            ("{{{x}}}", "X"),
            ("{{x}}}", "X}"),
            ("{ {x}", "{ X"),
            ("{a.b}", "{a.b}"),
        ] {
            assert_eq!(body(Channel::InApp, template, &p), Ok(expected.to_owned()), "{template}");
        }
    }

    #[test]
    fn sections_render_on_truthy_flags_and_inverted_sections_on_falsy_ones() {
        let template = "A{{#vip}} VIP {{name}}{{/vip}}{{^vip}} regular{{/vip}}";
        let vip = payload(&[("vip", PayloadValue::Bool(true)), ("name", s("Ada"))]);
        assert_eq!(body(Channel::InApp, template, &vip).unwrap(), "A VIP Ada");
        let regular = payload(&[("vip", PayloadValue::Bool(false))]);
        assert_eq!(body(Channel::InApp, template, &regular).unwrap(), "A regular");
        assert_eq!(body(Channel::InApp, template, &Payload::new()).unwrap(), "A regular");
        for falsy in [s(""), num("0"), num("0.0")] {
            assert_eq!(body(Channel::InApp, template, &payload(&[("vip", falsy)])).unwrap(), "A regular");
        }
        let named = payload(&[("vip", s("gold")), ("name", s("Ada"))]);
        assert_eq!(body(Channel::InApp, template, &named).unwrap(), "A VIP Ada");
    }

    #[test]
    fn a_section_can_print_its_own_flag_and_nest() {
        let template = "{{#coupon}}Use {{coupon}}{{#big}}!{{/big}}{{/coupon}} bye";
        let p = payload(&[("coupon", s("SAVE10")), ("big", PayloadValue::Bool(true))]);
        assert_eq!(body(Channel::InApp, template, &p).unwrap(), "Use SAVE10! bye");
        assert_eq!(body(Channel::InApp, template, &Payload::new()).unwrap(), " bye");
    }

    #[test]
    fn standalone_section_and_comment_lines_are_removed_as_in_mustache() {
        let template = "Hello\n{{! internal note }}\n{{#vip}}\nVIP\n{{/vip}}\nBye";
        let p = payload(&[("vip", PayloadValue::Bool(true))]);
        assert_eq!(body(Channel::InApp, template, &p).unwrap(), "Hello\nVIP\nBye");
    }

    #[test]
    fn payload_names_that_are_not_identifiers_cannot_switch_sections_on() {
        let p = payload(&[("?vip", s("yes")), ("%lbrace", s("<")), ("vip", PayloadValue::Bool(false))]);
        assert_eq!(body(Channel::InApp, "{ {{#vip}}VIP{{/vip}}{{^vip}}no{{/vip}}", &p).unwrap(), "{ no");
        let p = payload(&[("?vip", s("yes"))]);
        assert_eq!(body(Channel::InApp, "{{#vip}}VIP{{/vip}}.", &p).unwrap(), ".");
    }

    #[test]
    fn the_first_missing_variable_is_named() {
        let p = payload(&[("name", s("Ada"))]);
        assert_eq!(
            body(Channel::Sms, "Hi {{name}}, {amount} due {{date}}", &p),
            Err(TemplateError::MissingVariable("amount".into()))
        );
        assert_eq!(
            render(Channel::Push, Some("{{greeting}}"), "{{other}}", &p),
            Err(TemplateError::MissingVariable("greeting".into()))
        );
    }

    #[test]
    fn variables_inside_sections_are_required_only_when_the_section_renders() {
        let template = "{{#vip}}{{perk}}{{/vip}}{{^vip}}{{upsell}}{{/vip}}.";
        let vip = payload(&[("vip", PayloadValue::Bool(true))]);
        assert_eq!(body(Channel::InApp, template, &vip), Err(TemplateError::MissingVariable("perk".into())));
        let regular = payload(&[("vip", PayloadValue::Bool(false))]);
        assert_eq!(
            body(Channel::InApp, template, &regular),
            Err(TemplateError::MissingVariable("upsell".into()))
        );
        let ok = payload(&[("vip", PayloadValue::Bool(false)), ("upsell", s("Join!"))]);
        assert_eq!(body(Channel::InApp, template, &ok).unwrap(), "Join!.");
    }

    #[test]
    fn numbers_render_as_written_and_bools_as_words() {
        let p = payload(&[
            ("n", num("42")),
            ("neg", num("-7")),
            ("f", num("1.5")),
            ("whole_float", num("1.0")),
            ("yes", PayloadValue::Bool(true)),
            ("no", PayloadValue::Bool(false)),
        ]);
        assert_eq!(
            body(Channel::InApp, "{{n}} {{neg}} {{f}} {{whole_float}} {{yes}} {no}", &p).unwrap(),
            "42 -7 1.5 1.0 true false"
        );
    }

    #[test]
    fn output_is_not_html_escaped_outside_html_email_bodies() {
        let p = payload(&[("name", s("<b>Tom & \"Jerry\"</b>"))]);
        for channel in [Channel::Sms, Channel::Push, Channel::Slack, Channel::InApp, Channel::KakaoAlimtalk] {
            assert_eq!(body(channel, "Hi {{name}}", &p).unwrap(), "Hi <b>Tom & \"Jerry\"</b>", "{channel}");
        }
        assert_eq!(body(Channel::Email, "Hi {{name}}", &p).unwrap(), "Hi <b>Tom & \"Jerry\"</b>");
        let title = render(Channel::Email, Some("For {{name}}"), "<p>Hi</p>", &p).unwrap().title;
        assert_eq!(title.as_deref(), Some("For <b>Tom & \"Jerry\"</b>"));
    }

    #[test]
    fn html_email_bodies_escape_variables_unless_triple_braced() {
        let p = payload(&[("name", s("<b>Tom & 'Jerry'</b>"))]);
        assert_eq!(
            body(Channel::Email, "<p>Hi {{name}} / {name}</p>", &p).unwrap(),
            "<p>Hi &lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt; / &lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;</p>"
        );
        assert_eq!(
            body(Channel::Email, "Hi {{name}},<br>", &p).unwrap(),
            "Hi &lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;,<br>"
        );
        assert_eq!(
            body(Channel::Email, "<p>{{{name}}} {{&name}}</p>", &p).unwrap(),
            "<p><b>Tom & 'Jerry'</b> <b>Tom & 'Jerry'</b></p>"
        );
    }

    #[test]
    fn html_bodies_are_recognized_by_a_tag() {
        for html in ["<!DOCTYPE html><html></html>", "  <p>hi</p>", "Hi,<br>there", "a</b>"] {
            assert!(is_html_body(html), "{html}");
        }
        for text in ["Hi there", "1 < 2 and 3 > 2", "<3 you", "a <= b", ""] {
            assert!(!is_html_body(text), "{text}");
        }
    }

    #[test]
    fn syntax_errors_name_the_field() {
        let cases = [
            "{{name",
            "{{#a}}open",
            "{{/a}}",
            "{{#a}}{{/b}}",
            "{{}}",
            "{{user.name}}",
            "{{> footer}}",
            "{{=<% %>=}}",
            "{{{name}}",
            "{{#a}}{{^b}}{{/a}}{{/b}}",
            "{{first-name}}",
            "{{x}",
            "{{{&x}}",
        ];
        for template in cases {
            match validate_template(Channel::InApp, None, template) {
                Err(TemplateError::Syntax(message)) => {
                    assert!(message.starts_with("body: "), "{template}: {message}")
                }
                other => panic!("{template}: {other:?}"),
            }
        }
        match validate_template(Channel::Push, Some("{{#x}}"), "ok") {
            Err(TemplateError::Syntax(message)) => assert!(message.starts_with("title: "), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(validate_template(Channel::InApp, Some("Hi {{name}}"), "{{#a}}{x}{{/a}}{{!c}}"), Ok(()));
    }

    #[test]
    fn blank_bodies_are_rejected_at_registration_and_after_rendering() {
        assert_eq!(validate_template(Channel::Sms, None, " \n"), Err(TemplateError::EmptyBody));
        assert_eq!(body(Channel::Sms, "{{#a}}x{{/a}}", &Payload::new()), Err(TemplateError::EmptyBody));
        assert_eq!(check_limits(Channel::InApp, None, ""), Err(TemplateError::EmptyBody));
    }

    fn too_long(field: &'static str, limit: usize, actual: usize) -> Result<bool, TemplateError> {
        Err(TemplateError::TooLong { field, limit, actual })
    }

    #[test]
    fn titles_are_limited_to_200_characters_on_every_channel() {
        for channel in Channel::CANONICAL {
            assert_eq!(check_limits(channel, Some(&"가".repeat(200)), "b"), Ok(false), "{channel}");
            assert_eq!(
                check_limits(channel, Some(&"가".repeat(201)), "b"),
                too_long("title", 200, 201),
                "{channel}"
            );
        }
    }

    #[test]
    fn bodies_are_limited_per_channel() {
        for (channel, limit) in [
            (Channel::Email, 4000),
            (Channel::Slack, 4000),
            (Channel::InApp, 4000),
            (Channel::Sms, 2000),
            (Channel::KakaoAlimtalk, 1000),
        ] {
            assert!(check_limits(channel, None, &"é".repeat(limit)).is_ok(), "{channel}");
            assert_eq!(
                check_limits(channel, None, &"é".repeat(limit + 1)),
                too_long("body", limit, limit + 1),
                "{channel}"
            );
        }
        // PUSH: 4000 characters of ASCII fit in the byte limit too.
        assert!(check_limits(Channel::Push, None, &"a".repeat(4000)).is_ok());
        assert_eq!(check_limits(Channel::Push, None, &"a".repeat(4001)), too_long("body", 4000, 4001));
    }

    #[test]
    fn push_title_and_body_together_are_limited_to_4096_bytes() {
        let title = "t".repeat(96);
        let body_at_limit = "한".repeat(1333) + "b"; // 3999 + 1 bytes, 1334 characters
        assert_eq!(check_limits(Channel::Push, Some(&title), &body_at_limit), Ok(false));
        let over = body_at_limit.clone() + "b";
        assert_eq!(check_limits(Channel::Push, Some(&title), &over), too_long("title+body", 4096, 4097));
        // Other channels do not add title and body up.
        assert!(check_limits(Channel::Email, Some(&title), &over).is_ok());
    }

    #[test]
    fn sms_over_90_estimated_bytes_is_flagged_as_lms() {
        assert_eq!(check_limits(Channel::Sms, None, &"a".repeat(90)), Ok(false));
        assert_eq!(check_limits(Channel::Sms, None, &"a".repeat(91)), Ok(true));
        assert_eq!(check_limits(Channel::Sms, None, &"가".repeat(45)), Ok(false));
        assert_eq!(check_limits(Channel::Sms, None, &"가".repeat(46)), Ok(true));
        assert_eq!(check_limits(Channel::Sms, None, &format!("{}a", "가".repeat(45))), Ok(true));
        assert_eq!(check_limits(Channel::Sms, None, &format!("{}a", "가".repeat(44))), Ok(false));
        // Only SMS has LMS.
        assert_eq!(check_limits(Channel::KakaoAlimtalk, None, &"가".repeat(46)), Ok(false));
    }

    #[test]
    fn limits_apply_to_the_rendered_output() {
        let p = payload(&[("x", s(&"가".repeat(46)))]);
        let rendered = render(Channel::Sms, None, "{{x}}", &p).unwrap();
        assert!(rendered.lms);
        let p = payload(&[("x", s(&"a".repeat(1001)))]);
        assert_eq!(
            render(Channel::KakaoAlimtalk, None, "{{x}}", &p),
            Err(TemplateError::TooLong { field: "body", limit: 1000, actual: 1001 })
        );
        // The template text itself is checked at registration.
        assert_eq!(
            validate_template(Channel::KakaoAlimtalk, None, &"a".repeat(1001)),
            Err(TemplateError::TooLong { field: "body", limit: 1000, actual: 1001 })
        );
    }

    #[test]
    fn locale_fallback_goes_exact_then_language_then_default() {
        let en = locale("en");
        assert_eq!(
            locale_fallback_chain(&locale("en-us"), &locale("ko")),
            vec![locale("en-us"), en.clone(), locale("ko")]
        );
        assert_eq!(locale_fallback_chain(&en, &locale("ko")), vec![en.clone(), locale("ko")]);
        assert_eq!(locale_fallback_chain(&locale("en-us"), &en), vec![locale("en-us"), en.clone()]);
        assert_eq!(locale_fallback_chain(&en, &en), vec![en.clone()]);
        assert_eq!(
            locale_fallback_chain(&locale("zh-hant-tw"), &locale("ko-kr")),
            vec![locale("zh-hant-tw"), locale("zh-hant"), locale("zh"), locale("ko-kr")]
        );
        assert_eq!(locale_fallback_chain(&locale("en-x-foo"), &en), vec![locale("en-x-foo"), en.clone()]);
    }

    #[test]
    fn template_keys_follow_the_grammar() {
        for good in ["order.shipped", "a.b", "auth.otp_code.v2", "x1.y_2.z"] {
            assert_eq!(TemplateKey::parse(good).unwrap().as_str(), good);
        }
        let long_ok = format!("a.{}", "b".repeat(126));
        assert!(TemplateKey::parse(&long_ok).is_ok());
        let too_long = format!("a.{}", "b".repeat(127));
        for bad in [
            "",
            "order",
            "Order.shipped",
            "order.",
            ".order",
            "order..shipped",
            "1order.x",
            "order._x",
            "order.ship-ped",
            "order.shipped ",
            "주문.x",
            too_long.as_str(),
        ] {
            assert_eq!(TemplateKey::parse(bad), Err(TemplateError::InvalidKey), "{bad:?}");
        }
    }

    #[test]
    fn payload_values_convert_from_json_scalars_only() {
        assert_eq!(PayloadValue::from_json(&serde_json::json!("a")), Some(s("a")));
        assert_eq!(PayloadValue::from_json(&serde_json::json!(2)), Some(num("2")));
        assert_eq!(PayloadValue::from_json(&serde_json::json!(true)), Some(PayloadValue::Bool(true)));
        assert_eq!(PayloadValue::from_json(&serde_json::json!(null)), None);
        assert_eq!(PayloadValue::from_json(&serde_json::json!([1])), None);
        assert_eq!(num("1.0").to_json(), serde_json::json!(1.0));
    }

    proptest! {
        #[test]
        fn text_without_braces_renders_unchanged(text in "[^{}]{1,300}") {
            prop_assume!(!text.trim().is_empty());
            prop_assert_eq!(body(Channel::InApp, &text, &Payload::new()), Ok(text.clone()));
            prop_assert_eq!(body(Channel::Email, &text, &Payload::new()), Ok(text));
        }

        #[test]
        fn values_are_inserted_verbatim_outside_html(value in "\\PC{0,50}", before in "[^{}]{0,20}") {
            let p = payload(&[("v", s(&value))]);
            let expected = format!("{before}{value}.");
            prop_assert_eq!(body(Channel::InApp, &format!("{before}{{v}}."), &p), Ok(expected.clone()));
            prop_assert_eq!(body(Channel::Sms, &format!("{before}{{{{v}}}}."), &p), Ok(expected));
        }

        #[test]
        fn scanning_arbitrary_text_never_panics(text in "[{}a#^/&!> .\n]{0,40}", flag in any::<bool>()) {
            let p = payload(&[("a", PayloadValue::Bool(flag))]);
            let _ = validate_template(Channel::Email, Some(&text), &text);
            let _ = render(Channel::Email, Some(&text), &text, &p);
        }
    }
}
