//! Template benchmarks (SPEC §5.3).
//!
//! The domain API has no compiled-template type: [`render`] scans, rewrites and compiles the
//! template text on every call, then renders it. So two costs are measured per template:
//! `validate` (scan + compile + limits, what registration does and the compile part of every
//! render) and `render` (the whole call a send makes per channel). Render minus validate is
//! roughly the cost of filling in the variables.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hub_domain::template::{render, validate_template};
use hub_domain::{Channel, Payload, PayloadValue};

/// A short SMS body with three variables, one in the `{name}` shorthand.
const SHORT_BODY: &str = "Hi {{name}}, order {order_id} ships on {{ship_date}}.";

const HTML_TITLE: &str = "Your order {{order_id}} has shipped";

/// An HTML e-mail (about 1 KiB) with six escaped variables and a section.
const HTML_BODY: &str = r#"<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>Order {{order_id}}</title></head>
  <body style="font-family: sans-serif; color: #222;">
    <p>Hi {{name}},</p>
    <p>Good news: your order <strong>{{order_id}}</strong> left our warehouse today and is on its
       way to you. It should arrive on <strong>{{ship_date}}</strong>.</p>
    <table cellpadding="4" style="border-collapse: collapse;">
      <tr><td>Carrier</td><td>{{carrier}}</td></tr>
      <tr><td>Tracking number</td><td>{{tracking}}</td></tr>
      <tr><td>Items</td><td>{{item_count}}</td></tr>
    </table>
    {{#gift}}<p>This order is a gift: we left the prices off the packing slip.</p>{{/gift}}
    <p>Questions? Reply to this e-mail or visit our help centre.</p>
    <p style="font-size: 12px; color: #888;">You receive this e-mail because you placed an order
       with us. This is a transactional message and cannot be unsubscribed from.</p>
  </body>
</html>
"#;

fn text(s: &str) -> PayloadValue {
    PayloadValue::String(s.to_owned())
}

fn payload(entries: Vec<(&str, PayloadValue)>) -> Payload {
    entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn bench_template(c: &mut Criterion) {
    let short =
        payload(vec![("name", text("Ada")), ("order_id", text("A-1042")), ("ship_date", text("2026-06-12"))]);
    let html = payload(vec![
        // Characters that must be escaped in an HTML body.
        ("name", text("Ada <Lovelace> & \"friends\"")),
        ("order_id", text("A-1042")),
        ("ship_date", text("2026-06-12")),
        ("carrier", text("Parcel & Co")),
        ("tracking", text("1Z999AA10123456784")),
        ("item_count", PayloadValue::Number(3.into())),
        ("gift", PayloadValue::Bool(true)),
    ]);

    let rendered = render(Channel::Sms, None, SHORT_BODY, &short).expect("the short body renders");
    assert_eq!(rendered.body, "Hi Ada, order A-1042 ships on 2026-06-12.");
    let rendered = render(Channel::Email, Some(HTML_TITLE), HTML_BODY, &html).expect("the HTML body renders");
    assert!(rendered.body.contains("Ada &lt;Lovelace&gt; &amp; &quot;friends&quot;"), "{}", rendered.body);
    assert!(rendered.body.contains("a gift"));

    let mut group = c.benchmark_group("template");
    group.bench_function("validate_short_sms_3_vars", |b| {
        b.iter(|| validate_template(Channel::Sms, None, black_box(SHORT_BODY)));
    });
    group.bench_function("render_short_sms_3_vars", |b| {
        b.iter(|| render(Channel::Sms, None, black_box(SHORT_BODY), black_box(&short)));
    });
    group.bench_function("validate_email_html_1k", |b| {
        b.iter(|| validate_template(Channel::Email, Some(black_box(HTML_TITLE)), black_box(HTML_BODY)));
    });
    group.bench_function("render_email_html_1k_escaped", |b| {
        b.iter(|| {
            render(Channel::Email, Some(black_box(HTML_TITLE)), black_box(HTML_BODY), black_box(&html))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_template);
criterion_main!(benches);
