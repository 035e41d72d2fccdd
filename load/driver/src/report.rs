//! The final table (stdout) and the JSON summary of a run.

use std::io::Write;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::SendArgs;
use crate::readback::Sent;
use crate::run::Outcome;

/// One line on stdout (the driver's output is its report).
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// p50/p95/p99/max of a microsecond histogram, in milliseconds.
fn percentiles_ms(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let ms = |us: u64| (us as f64 / 1000.0 * 100.0).round() / 100.0;
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p95": ms(h.value_at_quantile(0.95)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
    })
}

fn cell(v: &Value, key: &str) -> String {
    v[key].as_f64().map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"))
}

/// Prints the table of a `send` run and returns its JSON.
pub(crate) fn send_summary(args: &SendArgs, outcome: &Outcome, sent: &Sent) -> Value {
    let seconds = outcome.elapsed.as_secs_f64();
    let accepted =
        outcome.statuses.iter().filter(|(s, _)| *s == "202" || *s == "200").map(|(_, n)| n).sum::<u64>();
    let errors: serde_json::Map<String, Value> = outcome
        .statuses
        .iter()
        .filter(|(s, _)| *s != "202" && *s != "200")
        .map(|(s, n)| (s.clone(), json!(n)))
        .collect();
    let post = percentiles_ms(&outcome.latency_us);
    let to_sent = percentiles_ms(&sent.latency_us);
    let summary = json!({
        "label": args.target.label,
        "channels": args.target.channels,
        "offeredRate": args.rate,
        "durationSeconds": args.duration.as_secs_f64(),
        "offered": outcome.offered,
        "dropped": outcome.dropped,
        "accepted": accepted,
        "achievedRate": accepted as f64 / seconds,
        "elapsedSeconds": seconds,
        "postLatencyMs": post,
        "errorsByStatus": errors,
        "acceptToSentMs": to_sent,
        "readback": { "sampled": sent.sampled, "sent": sent.sent, "notSent": sent.not_sent },
        "estimatedDispatchRate": sent.dispatch_rate,
        "hubRssMiB": outcome.rss_kib.map(|(max, last)| json!({ "max": max / 1024, "last": last / 1024 })),
        "hubCpuCores": outcome.hub_cores,
    });
    line("");
    line(&format!("== {} ==", args.target.label));
    line(&format!(
        "offered {:.0}/s for {:.0}s: {} requests, {} accepted ({:.0}/s achieved), {} dropped by the client",
        args.rate,
        args.duration.as_secs_f64(),
        outcome.offered,
        accepted,
        accepted as f64 / seconds,
        outcome.dropped
    ));
    line(&format!("{:<22} {:>9} {:>9} {:>9} {:>9}", "latency (ms)", "p50", "p95", "p99", "max"));
    for (name, v) in [("POST", &post), ("accept -> SENT", &to_sent)] {
        line(&format!(
            "{name:<22} {:>9} {:>9} {:>9} {:>9}",
            cell(v, "p50"),
            cell(v, "p95"),
            cell(v, "p99"),
            cell(v, "max")
        ));
    }
    line(&format!(
        "errors by status: {}",
        if errors.is_empty() { "none".to_owned() } else { Value::Object(errors).to_string() }
    ));
    line(&format!(
        "read back: {} notifications, {} deliveries SENT, {} not SENT in time{}",
        sent.sampled,
        sent.sent,
        sent.not_sent,
        sent.dispatch_rate.map_or(String::new(), |r| format!("; dispatch ≈ {r:.0}/s"))
    ));
    if let Some((max, last)) = outcome.rss_kib {
        line(&format!("hub RSS: max {} MiB, at the end {} MiB", max / 1024, last / 1024));
    }
    if let Some(cores) = outcome.hub_cores {
        line(&format!("hub CPU: {cores:.2} cores on average while sending"));
    }
    summary
}
