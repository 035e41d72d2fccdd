//! A throwaway Kafka cluster for tests: librdkafka's mock cluster behind real TCP listeners.
//!
//! ```text
//! kafka-mock [--brokers N] [--out FILE] [--control]
//! ```
//!
//! Starts `N` (1–3, default 1) mock brokers on `127.0.0.1`, prints one line
//! `KAFKA_BROKERS=<bootstrap servers>` to stdout (and writes the same line to `FILE` when
//! `--out` is given), then serves until SIGTERM or SIGINT. Any Kafka client in any process can
//! use the address: the mock speaks the wire protocol (produce with idempotence, fetch,
//! metadata with topic auto-creation, consumer groups with offset commits). It does not
//! implement the admin `CreateTopics` request; the Kafka adapter falls back to creating its
//! topics through metadata auto-creation (four partitions per topic on the mock). State lives
//! in memory only and is gone when the process ends.
//!
//! With `--control`, lines on standard input steer the cluster: `down` takes every broker down
//! (connections dropped, new ones refused), `up` brings them back — for outage tests.

use std::io::Write;
use std::process::ExitCode;

use rdkafka::mocking::MockCluster;

/// Command-line options.
#[derive(Debug)]
struct Options {
    brokers: i32,
    out: Option<std::path::PathBuf>,
    control: bool,
}

const USAGE: &str = "usage: kafka-mock [--brokers 1..=3] [--out FILE] [--control]";

fn parse_options() -> Result<Options, String> {
    let mut options = Options { brokers: 1, out: None, control: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--brokers" => {
                let value = args.next().ok_or("--brokers needs a value")?;
                options.brokers = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=3).contains(n))
                    .ok_or_else(|| format!("--brokers must be 1, 2 or 3, not {value:?}"))?;
            }
            "--out" => options.out = Some(args.next().ok_or("--out needs a file")?.into()),
            "--control" => options.control = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// Resolves when the process is asked to stop (SIGTERM or SIGINT).
async fn stop_requested() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

/// Lines of standard input (`down`, `up`), read on a thread of their own.
fn control_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    rx
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "kafka-mock: {message}");
    ExitCode::FAILURE
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => return fail(&message),
    };
    // The cluster runs on librdkafka's own threads; this one only waits for a signal.
    let cluster = match MockCluster::new(options.brokers) {
        Ok(cluster) => cluster,
        Err(e) => return fail(&format!("cannot start the mock cluster: {e}")),
    };
    let line = format!("KAFKA_BROKERS={}\n", cluster.bootstrap_servers());
    if let Some(path) = &options.out {
        if let Err(e) = std::fs::write(path, &line) {
            return fail(&format!("cannot write {}: {e}", path.display()));
        }
    }
    {
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush()).is_err() {
            // Nobody reads stdout (closed pipe): the --out file still tells the address.
        }
    }
    let mut commands =
        if options.control { control_lines() } else { tokio::sync::mpsc::unbounded_channel().1 };
    let stop = stop_requested();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            result = &mut stop => {
                if let Err(e) = result {
                    return fail(&format!("cannot listen for signals: {e}"));
                }
                break;
            }
            Some(command) = commands.recv() => {
                for broker in 1..=options.brokers {
                    let result = match command.as_str() {
                        "down" => cluster.broker_down(broker),
                        "up" => cluster.broker_up(broker),
                        _ => Ok(()),
                    };
                    if let Err(e) = result {
                        return fail(&format!("{command} broker {broker}: {e}"));
                    }
                }
            }
        }
    }
    drop(cluster);
    ExitCode::SUCCESS
}
