//! Harness for the black-box tests: starts the built `notification-hub` binary on a free port,
//! on the embedded default or on the production backends ([`Stack`]), talks to it over HTTP
//! ([`api`]), and stops it with SIGTERM or SIGKILL. Tests live under `tests/`.

pub mod api;
pub mod backends;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: `NH_E2E_BIN`, else `target/debug/notification-hub` next to the test
/// executable (`make test` builds it before the tests run).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("NH_E2E_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> → target/debug/notification-hub
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("notification-hub")
}

/// One `#[tokio::test]` per scenario and stack: `on_both_stacks!(scenario_a, scenario_b)` with
/// `async fn scenario_a(stack: Stack)` in scope makes `embedded::scenario_a` and
/// `production::scenario_a`.
#[macro_export]
macro_rules! on_both_stacks {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Stack::Embedded).await;
                }
            )+
        }
        mod production {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Stack::Production).await;
                }
            )+
        }
    };
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Which backend set a deployment runs on (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// SQLite, in-process queues and limiter: one replica.
    Embedded,
    /// PostgreSQL, Redis and Kafka ([`backends::production`]): any number of replicas.
    Production,
}

/// One deployment: a scratch folder and the backend environment its replicas share.
#[derive(Debug)]
pub struct Deployment {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    replicas: usize,
}

impl Stack {
    /// A fresh deployment on this stack (its own database, key and topic prefixes).
    pub async fn deployment(self) -> Deployment {
        let env = match self {
            Stack::Embedded => Vec::new(),
            Stack::Production => backends::production().await.isolated().await,
        };
        let dir = tempfile::tempdir().expect("scratch folder");
        Deployment { dir, env, replicas: 0 }
    }
}

impl Deployment {
    /// Starts a replica with the deployment's backends plus `extra` environment. Embedded
    /// replicas share the SQLite file, so start only one of them at a time.
    pub async fn start(&mut self, extra: &[(&str, &str)]) -> Hub {
        self.replicas += 1;
        let data = self.dir.path().join(format!("replica-{}", self.replicas));
        let data = if self.env.is_empty() { self.dir.path().to_path_buf() } else { data };
        std::fs::create_dir_all(&data).expect("replica folder");
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        Hub::start(&data, &env).await
    }

    /// The deployment's backend environment (empty for the embedded stack).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

/// A running hub process.
#[derive(Debug)]
pub struct Hub {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub base: String,
    data: PathBuf,
    env: Vec<(String, String)>,
    port: u16,
    log: PathBuf,
}

impl Hub {
    /// Starts a hub with a fresh data folder and the given extra environment, and waits until
    /// `/health/ready` answers 200 (at most 30 s).
    pub async fn start(data: &Path, env: &[(&str, &str)]) -> Hub {
        let port = free_port();
        let mut hub = Hub {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            port,
            log: data.join("hub.log"),
        };
        hub.spawn().await;
        hub
    }

    async fn spawn(&mut self) {
        let bin = binary();
        assert!(
            bin.exists(),
            "{} not found: build it first (`cargo build -p notification-hub`)",
            bin.display()
        );
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NH_HTTP_ADDR", format!("127.0.0.1:{}", self.port))
            .env("NH_DATA_DIR", &self.data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start notification-hub"));
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("notification-hub exited early with {status}; log:\n{}", self.log_text());
            }
            if let Ok(r) = client.get(format!("{}/health/ready", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "not ready within 30 s; log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> String {
        self.child.as_ref().expect("running").id().to_string()
    }

    /// Sends a signal with the `kill` command.
    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.pid()]).status().expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL, then waits for the process to be gone.
    pub fn kill9(&mut self) {
        self.signal("KILL");
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (at most `within`) for the exit status.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("did not exit within {within:?} after SIGTERM; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the same hub again (same port, data and environment), after a kill or terminate.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.spawn().await;
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
