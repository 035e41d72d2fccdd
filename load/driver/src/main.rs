//! `hub-load`: the load driver of `make bench` (issue 7, docs/performance.md).
//!
//! - `setup` creates the recipients a run sends to (quiet hours off, so results do not depend on
//!   the hour), then warms the hub up: 200 notifications sent (32 at a time) and waited for until
//!   SENT, so a run measures a pipeline that is already moving (database connections open, queue
//!   consumers joined to their groups).
//! - `send` offers POSTs at a constant arrival rate (open loop: request *i* is due at
//!   `start + i / rate` whether or not earlier ones have answered, and its latency is measured from
//!   that due time, so a stalled server cannot hide its stall by slowing the client down — no
//!   coordinated omission), then reads the delivery records back for accept → SENT latency.
//! - `fill` sends a fixed number of notifications as fast as a fixed number of connections allows
//!   (closed loop: for backlog experiments, where latency is not the point).
//! - `startup` measures how long a command takes from spawn to `/health/ready` answering 200.
//!
//! Every command prints a table and can write the same numbers as JSON (`--json`).

mod readback;
mod report;
mod run;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Load driver for notification-hub.
#[derive(Debug, Parser)]
#[command(name = "hub-load", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or replace) the recipients `load-0` … `load-{n-1}`.
    Setup(SetupArgs),
    /// Open-loop constant-arrival-rate sends, then accept → SENT read back.
    Send(SendArgs),
    /// Closed-loop: send `count` notifications over `connections` connections, as fast as possible.
    Fill(FillArgs),
    /// Spawn a command and time it until `/health/ready` answers 200.
    Startup(StartupArgs),
}

/// What every command that talks to a hub needs.
#[derive(Debug, Args)]
struct Target {
    /// Base URL of the hub.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Recipients `load-0` … `load-{n-1}` (created by `setup`).
    #[arg(long, default_value_t = 1000)]
    recipients: usize,
    /// Channels each send asks for (comma list); `setup` gives each recipient an address for them.
    #[arg(long, default_value = "EMAIL", value_delimiter = ',')]
    channels: Vec<String>,
    /// Write the results as JSON to this file as well.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A name for the run in the table and the JSON (e.g. `embedded 3000/s`).
    #[arg(long, default_value = "run")]
    label: String,
}

#[derive(Debug, Args)]
struct SetupArgs {
    #[command(flatten)]
    target: Target,
    /// Skip the warm-up (200 notifications sent and waited for until SENT), e.g. for a hub
    /// without the relay and worker roles.
    #[arg(long)]
    no_warm_up: bool,
}

#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    target: Target,
    /// Offered rate, requests per second.
    #[arg(long)]
    rate: f64,
    /// How long to offer it (`30s`, `2m`).
    #[arg(long, value_parser = parse_duration)]
    duration: Duration,
    /// Requests in flight beyond which new ones are not sent but counted as `dropped` (the client
    /// is then the bottleneck and says so).
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// PID of the hub, to sample its resident memory (RSS) during the run.
    #[arg(long)]
    pid: Option<u32>,
    /// Accepted notifications read back for accept → SENT (a uniform sample; 0 = none).
    #[arg(long, default_value_t = 2000)]
    readback: usize,
    /// How long to wait for the sampled notifications to reach SENT.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    readback_timeout: Duration,
}

#[derive(Debug, Args)]
struct FillArgs {
    #[command(flatten)]
    target: Target,
    /// Notifications to send.
    #[arg(long)]
    count: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
}

#[derive(Debug, Args)]
struct StartupArgs {
    /// Base URL the started hub will answer on.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Write the result as JSON to this file as well.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The command to start (its environment is inherited), e.g. `-- target/release/notification-hub serve`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `250ms`, `30s`, `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or("a duration needs a unit: ms, s or m")?;
    let (amount, unit) = s.split_at(split);
    let amount: u64 = amount.parse().map_err(|_| format!("`{s}` is not a duration"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(amount)),
        "s" => Ok(Duration::from_secs(amount)),
        "m" => Ok(Duration::from_secs(amount * 60)),
        _ => Err(format!("unknown unit `{unit}` (ms, s, m)")),
    }
}

/// The address a load recipient gets for `channel`, or `None` when the channel takes no address.
fn address(channel: &str, n: usize) -> anyhow::Result<Option<String>> {
    Ok(match channel {
        "EMAIL" => Some(format!("load-{n}@example.com")),
        "SMS" | "KAKAO_ALIMTALK" => Some(format!("+8210{n:08}")),
        "SLACK" => Some(format!("https://hooks.slack.com/services/T0/B0/load{n}")),
        "IN_APP" | "PUSH" => None,
        other => bail!("unknown channel {other}"),
    })
}

async fn setup(args: SetupArgs) -> anyhow::Result<()> {
    let target = &args.target;
    let client = reqwest::Client::new();
    let started = Instant::now();
    for n in 0..target.recipients {
        let mut channels = Vec::new();
        for channel in &target.channels {
            match address(channel, n)? {
                Some(address) => channels.push(json!({ "type": channel, "address": address })),
                None => channels.push(json!({ "type": channel })),
            }
        }
        let base = format!("{}/api/v1/recipients/load-{n}", target.url);
        let profile = json!({ "channels": channels, "timezone": "UTC" });
        let status = client.put(&base).json(&profile).send().await?.status();
        if !status.is_success() {
            bail!("PUT {base}: {status}");
        }
        let status = client
            .put(format!("{base}/preferences"))
            .json(&json!({ "quietHours": null }))
            .send()
            .await?
            .status();
        if !status.is_success() {
            bail!("PUT {base}/preferences: {status}");
        }
        if target.channels.iter().any(|c| c == "PUSH") {
            let token = format!("load-push-token-{n:08}-0123456789abcdef");
            let device = json!({ "platform": "ANDROID", "token": token });
            let status = client.post(format!("{base}/devices")).json(&device).send().await?.status();
            if !status.is_success() {
                bail!("POST {base}/devices: {status}");
            }
        }
    }
    report::line(&format!(
        "setup: {} recipients in {:.1}s",
        target.recipients,
        started.elapsed().as_secs_f64()
    ));
    if args.no_warm_up {
        return Ok(());
    }
    readback::warm_up(&client, target).await
}

async fn startup(args: StartupArgs) -> anyhow::Result<()> {
    let (program, rest) = args.command.split_first().context("no command")?;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(500)).build()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program).args(rest).kill_on_drop(true).spawn()?;
    let ready = loop {
        if let Some(status) = child.try_wait()? {
            bail!("{program} exited with {status} before it was ready");
        }
        if let Ok(r) = client.get(format!("{}/health/ready", args.url)).send().await {
            if r.status() == 200 {
                break started.elapsed();
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    child.kill().await?;
    report::line(&format!("startup: ready after {:.0} ms", ready.as_secs_f64() * 1000.0));
    write_json(args.json.as_ref(), &json!({ "startToReadyMs": ready.as_secs_f64() * 1000.0 }))
}

fn write_json(path: Option<&PathBuf>, value: &Value) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Setup(args) => setup(args).await,
        Command::Send(args) => {
            let outcome = run::open_loop(&args).await?;
            let sent = readback::accept_to_sent(&args, &outcome.accepted).await?;
            let summary = report::send_summary(&args, &outcome, &sent);
            write_json(args.target.json.as_ref(), &summary)
        }
        Command::Fill(args) => {
            let summary = run::fill(&args).await?;
            write_json(args.target.json.as_ref(), &summary)
        }
        Command::Startup(args) => startup(args).await,
    }
}
