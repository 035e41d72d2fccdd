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

#[test]
fn nul_characters_are_refused_in_templates() {
    for (title, body) in [(None, "a\0b"), (Some("t\0"), "ok")] {
        let err = validate_template(Channel::Email, title, body).unwrap_err();
        assert!(matches!(&err, TemplateError::Syntax(m) if m.contains("NUL")), "{err}");
    }
}
