//! The two ways of offering load: open loop at a constant arrival rate, and closed-loop fill.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{FillArgs, SendArgs, Target, report};

/// What one request came back with.
#[derive(Debug)]
struct Answer {
    /// `202`, `429`, … or `error: …` when no HTTP answer came.
    status: String,
    /// From the request's due time to the end of the answer.
    latency: Duration,
    /// The notification id of an accepted send.
    id: Option<String>,
}

/// Everything an open-loop run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Requests due during the run.
    pub(crate) offered: u64,
    /// Requests not sent because `max_in_flight` were already waiting.
    pub(crate) dropped: u64,
    /// Wall time from the first due request to the last answer.
    pub(crate) elapsed: Duration,
    /// POST latency in microseconds, measured from each request's due time.
    pub(crate) latency_us: Histogram<u64>,
    /// Answers by status.
    pub(crate) statuses: BTreeMap<String, u64>,
    /// Ids of accepted notifications (202, and 200 SUPPRESSED), in answer order.
    pub(crate) accepted: Vec<String>,
    /// Largest and last resident set size of the hub seen during the run, in KiB.
    pub(crate) rss_kib: Option<(u64, u64)>,
    /// CPU the hub used during the run, in cores (CPU seconds / wall seconds).
    pub(crate) hub_cores: Option<f64>,
}

/// A client that keeps connections open and never waits longer than `timeout` for an answer.
fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(4096).tcp_nodelay(true).build()?)
}

/// The body and Idempotency-Key of send number `n` of run `run`.
pub(crate) fn request(target: &Target, run: &str, n: u64) -> (String, Value) {
    let recipient = n % target.recipients as u64;
    let body = json!({
        "recipientId": format!("load-{recipient}"),
        "kind": "TRANSACTIONAL",
        "channels": target.channels,
        "title": "Load test",
        "body": format!("Load test message {n} of run {run}."),
    });
    (format!("{run}-{n}"), body)
}

async fn post(client: &reqwest::Client, url: &str, key: String, body: &Value) -> (String, Option<String>) {
    match client.post(url).header("Idempotency-Key", key).json(body).send().await {
        Ok(response) => {
            let status = response.status();
            let id = match response.json::<Value>().await {
                Ok(v) if status.is_success() => v["notificationId"].as_str().map(str::to_owned),
                _ => None,
            };
            (status.as_u16().to_string(), id)
        }
        Err(e) if e.is_timeout() => ("error: timeout".to_owned(), None),
        Err(e) if e.is_connect() => ("error: connect".to_owned(), None),
        Err(_) => ("error: other".to_owned(), None),
    }
}

/// A run id that keeps Idempotency-Keys of different runs apart.
fn run_id() -> String {
    format!("load-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"))
}

/// CPU seconds (user + system) a process has used: fields 14 and 15 of `/proc/<pid>/stat`, in
/// clock ticks of 1/100 s (the Linux default `USER_HZ`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Reads `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn progress(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// Offers `rate` requests per second for `duration`, each due at `start + i / rate`.
pub(crate) async fn open_loop(args: &SendArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let target = &args.target;
    let client = client(Duration::from_secs(10))?;
    let url = format!("{}/api/v1/notifications", target.url);
    let run = run_id();
    let total = (args.rate * args.duration.as_secs_f64()).round() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel::<Answer>();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let bar = progress(total);
    let mut dropped = 0;
    let mut rss: Option<(u64, u64)> = None;
    let mut next_rss = Instant::now();

    let cpu_before = args.pid.and_then(cpu_seconds);
    let start = tokio::time::Instant::now();
    for n in 0..total {
        let due = start + Duration::from_secs_f64(n as f64 / args.rate);
        tokio::time::sleep_until(due).await;
        if let Some(pid) = args.pid {
            if Instant::now() >= next_rss {
                if let Some(kib) = rss_kib(pid) {
                    rss = Some(rss.map_or((kib, kib), |(max, _)| (max.max(kib), kib)));
                }
                next_rss = Instant::now() + Duration::from_millis(250);
            }
        }
        if in_flight.load(Ordering::Relaxed) >= args.max_in_flight {
            dropped += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, url, tx, counter) = (client.clone(), url.clone(), tx.clone(), in_flight.clone());
        let (key, body) = request(target, &run, n);
        tokio::spawn(async move {
            let (status, id) = post(&client, &url, key, &body).await;
            counter.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(Answer { status, latency: due.elapsed(), id });
        });
        if n % 256 == 0 {
            bar.set_position(n);
            bar.set_message(format!("in flight {}", in_flight.load(Ordering::Relaxed)));
        }
    }
    drop(tx);
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut statuses = BTreeMap::new();
    let mut accepted = Vec::new();
    while let Some(answer) = rx.recv().await {
        latency_us.saturating_record(answer.latency.as_micros() as u64);
        *statuses.entry(answer.status).or_insert(0) += 1;
        accepted.extend(answer.id);
    }
    let elapsed = start.elapsed();
    let hub_cores = match (cpu_before, args.pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) => Some((after - before) / elapsed.as_secs_f64()),
        _ => None,
    };
    bar.finish_and_clear();
    if let Some(pid) = args.pid {
        if let Some(kib) = rss_kib(pid) {
            rss = Some(rss.map_or((kib, kib), |(max, _)| (max.max(kib), kib)));
        }
    }
    Ok(Outcome { offered: total, dropped, elapsed, latency_us, statuses, accepted, rss_kib: rss, hub_cores })
}

/// Sends `count` notifications over `connections` concurrent connections, as fast as they go.
pub(crate) async fn fill(args: &FillArgs) -> anyhow::Result<Value> {
    let target = &args.target;
    let client = client(Duration::from_secs(30))?;
    let url = Arc::new(format!("{}/api/v1/notifications", target.url));
    let run = Arc::new(run_id());
    let next = Arc::new(AtomicUsize::new(0));
    let bar = progress(args.count as u64);
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..args.connections.max(1) {
        let (client, url, run, next, bar) =
            (client.clone(), url.clone(), run.clone(), next.clone(), bar.clone());
        let (recipients, channels, count) = (target.recipients, target.channels.clone(), args.count);
        lanes.spawn(async move {
            let target =
                Target { url: String::new(), recipients, channels, json: None, label: String::new() };
            let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return statuses;
                }
                let (key, body) = request(&target, &run, n as u64);
                let (status, _) = post(&client, &url, key, &body).await;
                *statuses.entry(status).or_insert(0) += 1;
                bar.inc(1);
            }
        });
    }
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(lane) = lanes.join_next().await {
        for (status, n) in lane? {
            *statuses.entry(status).or_insert(0) += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let accepted = statuses.get("202").copied().unwrap_or(0);
    report::line(&format!(
        "fill {}: {} sent over {} connections in {elapsed:.1}s = {:.0}/s accepted; statuses {statuses:?}",
        target.label,
        args.count,
        args.connections,
        accepted as f64 / elapsed
    ));
    Ok(json!({
        "label": target.label,
        "count": args.count,
        "connections": args.connections,
        "seconds": elapsed,
        "acceptedPerSecond": accepted as f64 / elapsed,
        "statuses": statuses,
    }))
}
