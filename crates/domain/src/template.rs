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
    // No store keeps NUL in text (PostgreSQL refuses it), so no template may hold one.
    for (field, text) in [("title", title.unwrap_or_default()), ("body", body)] {
        if text.contains('\0') {
            return Err(TemplateError::Syntax(format!("{field}: NUL characters are not allowed")));
        }
    }
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
mod tests;
