//! Test helpers: run the real `sentari` binary against a fresh data directory and database.
//!
//! The database is SQLite in the temporary data directory unless `SENTARI_TEST_BACKEND=postgres`,
//! in which case each server gets a throw-away PostgreSQL database from the store's harness.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sentari_store::testing::TestDb;

/// The binary under test.
pub fn sentari() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sentari"))
}

/// Whether this run targets PostgreSQL.
pub fn postgres_backend() -> bool {
    std::env::var("SENTARI_TEST_BACKEND")
        .map(|b| b == "postgres")
        .unwrap_or(false)
}

/// A data directory plus the database every process of one test shares.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: Option<TestDb>,
    pub database_url: String,
}

impl Env {
    /// A fresh environment on the backend this run targets.
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        if postgres_backend() {
            let db = TestDb::postgres().await.expect(
                "SENTARI_TEST_BACKEND=postgres needs PostgreSQL (SENTARI_TEST_DATABASE_URL)",
            );
            let url = db.url().to_owned();
            Env {
                dir,
                db: Some(db),
                database_url: url,
            }
        } else {
            let url = format!("sqlite://{}", dir.path().join("data/sentari.db").display());
            Env {
                dir,
                db: None,
                database_url: url,
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Environment variables for a process of this test.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "SENTARI_DATA_DIR".into(),
                self.data_dir().display().to_string(),
            ),
            ("SENTARI_DATABASE_URL".into(), self.database_url.clone()),
            ("SENTARI_HTTP_BIND".into(), "127.0.0.1:0".into()),
            ("SENTARI_AGENT_BIND".into(), "127.0.0.1:0".into()),
            ("SENTARI_METRICS_BIND".into(), "127.0.0.1:0".into()),
            ("SENTARI_LOG_LEVEL".into(), "info".into()),
            // Most tests are about other things than TLS: plain HTTP on the web listener keeps
            // their clients simple, and a P-384 CA is made in milliseconds where RSA-4096 takes
            // seconds. The transport tests override both.
            ("SENTARI_HTTP_TLS".into(), "off".into()),
            ("SENTARI_CA_KEY_TYPE".into(), "ecdsa-p384".into()),
        ]
    }

    /// Runs an operator command to completion.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = sentari();
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts a long-running role and waits for its banner.
    pub fn start(&self, role: &str, extra: &[(&str, &str)]) -> Server {
        let mut vars = self.vars();
        for (k, v) in extra {
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), v.to_string()));
        }
        Server::start(role, &vars)
    }
}

/// A finished command.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running server process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: Option<String>,
    pub agent: Option<String>,
    pub metrics: Option<String>,
    pub lines: mpsc::Receiver<String>,
    pub banner: Vec<String>,
}

impl Server {
    pub fn start(role: &str, vars: &[(String, String)]) -> Server {
        let mut cmd = sentari();
        cmd.arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {line}"));
            }
        });
        let mut server = Server {
            child,
            http: None,
            agent: None,
            metrics: None,
            lines: rx,
            banner: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match server.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(a) = line.trim().strip_prefix("web/API:") {
                        server.http = Some(a.trim().to_owned());
                    }
                    if let Some(a) = line.trim().strip_prefix("agent:") {
                        server.agent = Some(a.trim().to_owned());
                    }
                    if let Some(a) = line.trim().strip_prefix("metrics:") {
                        server.metrics = Some(a.trim().trim_end_matches("/metrics").to_owned());
                    }
                    let done = line.trim_start().starts_with("logs:");
                    server.banner.push(line);
                    if done {
                        return server;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        panic!(
                            "sentari {role} exited early with {status}: {:?}",
                            server.banner
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("sentari {role} printed no banner: {:?}", server.banner);
    }

    pub fn url(&self) -> &str {
        self.http.as_deref().expect("this role has no web listener")
    }

    pub fn client(&self) -> sentari_client::Client {
        sentari_client::Client::new(self.url()).unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the process dies without any cleanup, like a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Collects the output lines seen so far.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal with the `kill` command (no libc, no unsafe).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Polls `f` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads a log file, empty when absent.
pub fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("logs").join(format!("{name}.log"))).unwrap_or_default()
}

/// Waits until log `name` contains every one of `texts`, and returns it. Log lines are written
/// by a background writer, so a line may land a moment after the response that caused it.
pub async fn log_with(dir: &Path, name: &str, texts: &[&str]) -> String {
    eventually(
        Duration::from_secs(10),
        &format!("{name}.log to mention {texts:?}"),
        || async {
            let log = read_log(dir, name);
            texts.iter().all(|t| log.contains(t)).then_some(log)
        },
    )
    .await
}
