//! Accept → SENT latency, read back from the delivery records after a run: for each sampled
//! notification, the time from its `createdAt` (the accept transaction) to the end of the try
//! that the vendor accepted (`tries[].at + latencyMs` of the `SENT` try).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde_json::Value;

use crate::{SendArgs, Target, report, run};

/// What the read-back found.
#[derive(Debug)]
pub(crate) struct Sent {
    /// Notifications read back.
    pub(crate) sampled: usize,
    /// Deliveries that reached SENT (or DELIVERED) in time.
    pub(crate) sent: u64,
    /// Deliveries that had not, when the wait ended.
    pub(crate) not_sent: u64,
    /// Accept → SENT per delivery, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Vendor acceptances per second over the sample's span, scaled to every accepted
    /// notification (an estimate of the dispatch rate; the sample is uniform over the run).
    pub(crate) dispatch_rate: Option<f64>,
}

/// Every `len / want`-th element, at most `want` of them.
fn uniform_sample(ids: &[String], want: usize) -> Vec<String> {
    if want == 0 || ids.is_empty() {
        return Vec::new();
    }
    let step = (ids.len() as f64 / want as f64).max(1.0);
    (0..want.min(ids.len())).map(|i| ids[((i as f64) * step) as usize].clone()).collect()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// When each delivery of a notification view was accepted by the vendor (`None` = not yet).
fn sent_times(view: &Value) -> Vec<Option<DateTime<Utc>>> {
    let deliveries = view["deliveries"].as_array().map(Vec::as_slice).unwrap_or_default();
    deliveries
        .iter()
        .map(|d| {
            let tries = d["tries"].as_array()?;
            let sent = tries.iter().find(|t| t["outcome"] == "SENT")?;
            let at = time(&sent["at"])?;
            Some(at + chrono::Duration::milliseconds(sent["latencyMs"].as_i64().unwrap_or(0)))
        })
        .collect()
}

/// Polls the sampled notifications until every delivery is SENT or the timeout passes.
pub(crate) async fn accept_to_sent(args: &SendArgs, accepted: &[String]) -> anyhow::Result<Sent> {
    let sample = uniform_sample(accepted, args.readback);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let deadline = Instant::now() + args.readback_timeout;
    let mut pending = sample.clone();
    let mut views: Vec<Value> = Vec::with_capacity(sample.len());
    while !pending.is_empty() {
        let mut still = Vec::new();
        for chunk in pending.chunks(32) {
            let mut gets = tokio::task::JoinSet::new();
            for id in chunk {
                let (client, url, id) =
                    (client.clone(), format!("{}/api/v1/notifications/{id}", args.target.url), id.clone());
                gets.spawn(async move {
                    let view = client.get(url).send().await.ok()?.json::<Value>().await.ok();
                    Some((id, view))
                });
            }
            while let Some(got) = gets.join_next().await {
                let Some((id, view)) = got? else { continue };
                match view {
                    Some(v) if sent_times(&v).iter().all(Option::is_some) => views.push(v),
                    Some(v) if Instant::now() >= deadline => views.push(v),
                    _ => still.push(id),
                }
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let (mut sent, mut not_sent) = (0, 0);
    let mut sent_at: Vec<DateTime<Utc>> = Vec::new();
    let mut deliveries_per_notification = 0.0;
    for view in &views {
        let created = time(&view["createdAt"]);
        let times = sent_times(view);
        deliveries_per_notification += times.len() as f64;
        for at in times {
            match (created, at) {
                (Some(created), Some(at)) => {
                    sent += 1;
                    let us = (at - created).num_microseconds().unwrap_or(0).max(0) as u64;
                    latency_us.saturating_record(us.max(1));
                    sent_at.push(at);
                }
                _ => not_sent += 1,
            }
        }
    }
    let dispatch_rate = if views.is_empty() {
        None
    } else {
        dispatch_rate(&mut sent_at, accepted.len() as f64 * deliveries_per_notification / views.len() as f64)
    };
    not_sent += (sample.len() - views.len()) as u64;
    Ok(Sent { sampled: sample.len(), sent, not_sent, latency_us, dispatch_rate })
}

/// Deliveries SENT per second over the middle 90 % of the sample's SENT times, scaled to all
/// `deliveries` of the run: the sample is uniform over the run, and the outer 5 % on each side
/// (ramp-up, a few stragglers) would otherwise decide the span.
fn dispatch_rate(sent_at: &mut [DateTime<Utc>], deliveries: f64) -> Option<f64> {
    if sent_at.len() < 20 {
        return None;
    }
    sent_at.sort_unstable();
    let (low, high) = (sent_at[sent_at.len() / 20], sent_at[sent_at.len() - 1 - sent_at.len() / 20]);
    let span = (high - low).num_microseconds()? as f64 / 1e6;
    (span > 0.0).then(|| 0.9 * deliveries / span)
}

/// How long the warm-up waits for its notifications to be SENT.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// Notifications of the warm-up, and how many of them are in flight at once.
const WARM_UP_COUNT: u64 = 200;
const WARM_UP_CONCURRENCY: usize = 32;

/// Sends [`WARM_UP_COUNT`] notifications, [`WARM_UP_CONCURRENCY`] at a time, and waits until
/// every delivery of them is SENT, so that a run starts on a hub whose whole pipeline is
/// already moving: database connections opened (and their prepared statements planned), queue
/// consumers joined to their groups. Without it the first second of the first run would count
/// the hub's cold start as request and accept → SENT latency.
pub(crate) async fn warm_up(client: &reqwest::Client, target: &Target) -> anyhow::Result<()> {
    let started = Instant::now();
    let run = format!("warm-up-{}", Utc::now().timestamp_micros());
    let mut ids = Vec::new();
    let numbers: Vec<u64> = (0..WARM_UP_COUNT).collect();
    for chunk in numbers.chunks(WARM_UP_CONCURRENCY) {
        let mut posts = tokio::task::JoinSet::new();
        for n in chunk {
            let (key, body) = run::request(target, &run, *n);
            let (client, url) = (client.clone(), format!("{}/api/v1/notifications", target.url));
            posts.spawn(async move {
                let response = client.post(url).header("Idempotency-Key", key).json(&body).send().await?;
                let status = response.status();
                let answer: Value = response.json().await?;
                let id = answer["notificationId"].as_str().filter(|_| status.is_success()).map(str::to_owned);
                id.ok_or_else(|| anyhow::anyhow!("warm-up POST answered {status}: {answer}"))
            });
        }
        while let Some(id) = posts.join_next().await {
            ids.push(id??);
        }
    }
    for id in ids {
        loop {
            let view: Value =
                client.get(format!("{}/api/v1/notifications/{id}", target.url)).send().await?.json().await?;
            let times = sent_times(&view);
            if !times.is_empty() && times.iter().all(Option::is_some) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < WARM_UP_TIMEOUT,
                "the warm-up notification {id} was not SENT in time: {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    report::line(&format!(
        "warm-up: {WARM_UP_COUNT} notifications, {WARM_UP_CONCURRENCY} at a time, all SENT {:.2}s after the first POST",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_uniform_sample_spreads_over_the_whole_run() {
        let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(uniform_sample(&ids, 5), ["0", "2", "4", "6", "8"]);
        assert_eq!(uniform_sample(&ids, 50).len(), 10);
        assert!(uniform_sample(&ids, 0).is_empty());
    }

    #[test]
    fn the_dispatch_rate_ignores_the_outer_five_percent() {
        let start = time(&json!("2026-12-04T10:00:00Z")).unwrap();
        // 100 sends one every 10 ms (≈ 100/s), then one straggler a minute later.
        let mut at: Vec<DateTime<Utc>> =
            (0..100).map(|i| start + chrono::Duration::milliseconds(i * 10)).collect();
        at.push(start + chrono::Duration::seconds(60));
        let rate = dispatch_rate(&mut at, 101.0).unwrap();
        assert!((95.0..=115.0).contains(&rate), "{rate}");
        assert_eq!(dispatch_rate(&mut at[..10].to_vec(), 10.0), None);
    }

    #[test]
    fn the_sent_time_is_the_end_of_the_try_the_vendor_accepted() {
        let view = json!({ "deliveries": [
            { "tries": [
                { "at": "2026-12-04T10:00:00Z", "outcome": "FAILED", "latencyMs": 5 },
                { "at": "2026-12-04T10:00:01Z", "outcome": "SENT", "latencyMs": 100 }
            ] },
            { "tries": [] }
        ] });
        let times = sent_times(&view);
        assert_eq!(times[0], time(&json!("2026-12-04T10:00:01.100Z")));
        assert_eq!(times[1], None);
    }
}
