//! The measurements: enrollment and upload over the agent protocol, polling through the REST
//! API and the metrics endpoint, and the reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use rcgen::{CertificateParams, KeyPair};
use sentari_client::Client;
use sentari_client::agent::{AgentClient, DeviceIdentity, ProxySettings, ServerTrust};
use sentari_proto::agent::{HostInfo, OsReleaseInfo, RegisterRequest, Runtime, ScanUpload};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::CatalogArgs;
use super::catalog::Catalog;
use super::generate::{DeviceInventory, Generator};
use crate::stats::Samples;

/// How to reach the server under test.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The agent gateway (`https://127.0.0.1:8000`).
    #[arg(long, default_value = "https://127.0.0.1:8000")]
    agent_url: String,
    /// The web/API listener (`http://127.0.0.1:8443`; run the server with
    /// `SENTARI_HTTP_TLS=off` on loopback).
    #[arg(long, default_value = "http://127.0.0.1:8443")]
    api_url: String,
    /// The server's CA certificate (`<data>/ca/ca.pem`), trusted for the agent gateway.
    #[arg(long)]
    ca: PathBuf,
    /// The enrollment token (`SENTARI_ENROLLMENT_TOKEN` of the server).
    #[arg(long, env = "SENTARI_ENROLLMENT_TOKEN")]
    token: String,
    /// An operator to read the API as (the bootstrap owner will do).
    #[arg(long, env = "SENTARI_BOOTSTRAP_ADMIN_EMAIL")]
    email: String,
    /// That operator's password.
    #[arg(long, env = "SENTARI_BOOTSTRAP_ADMIN_PASSWORD")]
    password: String,
    /// The Prometheus endpoint (`http://127.0.0.1:9464`), for job completion counts.
    #[arg(long, default_value = "http://127.0.0.1:9464")]
    metrics_url: String,
    /// The server's process id, to report its resident memory (VmRSS, VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// Options of `fleet scan`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Devices to enroll.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Index of the first device (a later run can add devices to the same fleet).
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Concurrent virtual agents.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Re-scan rounds after the first scans, each with `--churn` of the packages changed.
    #[arg(long, default_value_t = 0)]
    rescans: u64,
    /// Share of packages changed by each re-scan round.
    #[arg(long, default_value_t = 0.03)]
    churn: f64,
    /// Do not wait for the server to finish ingesting (seeding a fleet quickly).
    #[arg(long)]
    no_wait: bool,
}

/// Options of `fleet latency`.
#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// New devices to measure, one after the other.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Index of the first device (pick one no earlier run used).
    #[arg(long, default_value_t = 900_000)]
    first: u64,
}

/// Options of `fleet api`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Timed requests per endpoint (after three warm-up requests).
    #[arg(long, default_value_t = 30)]
    requests: usize,
    /// REST paths to time; `{device}` becomes a device id. Default: the list endpoints.
    #[arg(long = "endpoint")]
    endpoints: Vec<String>,
    /// Dashboard pages to time with a session cookie; missing pages are reported as such.
    #[arg(
        long = "page",
        default_values_t = [
            "/", "/fleet/overview", "/fleet/devices", "/fleet/devices?sort=-findings",
            "/fleet/devices/{device}", "/fleet/packages", "/fleet/packages?name=django",
            "/fleet/runtime", "/fleet/scans", "/fleet/diagnostics", "/security/cve",
            "/security/cve?view=device", "/admin/settings", "/admin/tasks", "/admin/audit",
            "/profile",
        ].map(String::from)
    )]
    pages: Vec<String>,
}

const DEFAULT_ENDPOINTS: &[&str] = &[
    "/api/v1/overview",
    "/api/v1/devices",
    "/api/v1/devices?sort=-findings",
    "/api/v1/devices?q=0004",
    "/api/v1/devices/{device}",
    "/api/v1/devices/{device}/packages",
    "/api/v1/devices/{device}/findings",
    "/api/v1/packages",
    "/api/v1/packages?name=django",
    "/api/v1/runtimes",
    "/api/v1/scans",
    "/api/v1/diagnostics",
    "/api/v1/findings",
    "/api/v1/findings?group=advisory",
    "/api/v1/findings?severity=critical",
    "/api/v1/feeds",
];

/// An operator session against the REST API and the metrics endpoint.
struct Api {
    client: Client,
    metrics: Client,
    email: String,
    password: String,
    /// The session token; replaced when the server ends the session.
    token: std::sync::Mutex<String>,
}

impl Api {
    async fn login(s: &ServerArgs) -> anyhow::Result<Api> {
        let api = Api {
            client: Client::new(&s.api_url)?,
            metrics: Client::new(&s.metrics_url)?,
            email: s.email.clone(),
            password: s.password.clone(),
            token: std::sync::Mutex::new(String::new()),
        };
        api.sign_in().await?;
        Ok(api)
    }

    /// Signs in (again) and keeps the new token.
    async fn sign_in(&self) -> anyhow::Result<()> {
        let body = serde_json::json!({"email": self.email, "password": self.password});
        let r = self
            .client
            .send("POST", "/api/v1/auth/login", &[], Some(&body))
            .await?;
        let Some(token) = r.body["token"].as_str() else {
            bail!("login as {} failed: {} {}", self.email, r.status, r.body);
        };
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = token.to_owned();
        Ok(())
    }

    fn token(&self) -> String {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A GET as the operator. Seeding a large fleet on a slow machine outlasts the server's
    /// idle session timeout (the session is not used while the scans are ingested), so a 401
    /// signs in again and retries once.
    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let mut r = self.get_once(path).await?;
        if r.status == 401 {
            self.sign_in().await?;
            r = self.get_once(path).await?;
        }
        if r.status != 200 {
            bail!("GET {path}: {} {}", r.status, r.body);
        }
        Ok(r.body)
    }

    async fn get_once(
        &self,
        path: &str,
    ) -> anyhow::Result<sentari_client::Answer<serde_json::Value>> {
        let auth = format!("Bearer {}", self.token());
        Ok(self
            .client
            .get_json(path, &[("authorization", auth.as_str())])
            .await?)
    }

    /// The sum of the values of the metrics endpoint's sample lines that `keep` accepts.
    async fn metric_sum(&self, keep: impl Fn(&str) -> bool) -> anyhow::Result<u64> {
        let (status, _, body) = self.metrics.get_bytes("/metrics", &[]).await?;
        if status != 200 {
            bail!("GET /metrics: {status}");
        }
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| keep(l))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64)
    }

    /// `sentari_jobs_total{kind, outcome="done"}` from the metrics endpoint.
    async fn jobs_done(&self, kind: &str) -> anyhow::Result<u64> {
        let want = format!("kind=\"{kind}\"");
        self.metric_sum(|l| {
            l.starts_with("sentari_jobs_total{")
                && l.contains(&want)
                && l.contains("outcome=\"done\"")
        })
        .await
    }

    /// `sentari_advisory_counts_pending` from the metrics endpoint (0 when absent).
    async fn advisory_counts_pending(&self) -> anyhow::Result<u64> {
        self.metric_sum(|l| l.starts_with("sentari_advisory_counts_pending "))
            .await
    }
}

/// A registered virtual agent.
#[derive(Debug, Clone)]
struct Enrolled {
    device_id: Uuid,
    identity: DeviceIdentity,
}

fn trust(s: &ServerArgs) -> anyhow::Result<ServerTrust> {
    let pem = std::fs::read_to_string(&s.ca)
        .with_context(|| format!("reading the CA certificate {}", s.ca.display()))?;
    Ok(ServerTrust::Ca(pem))
}

fn agent_client(
    s: &ServerArgs,
    trust: &ServerTrust,
    id: Option<&DeviceIdentity>,
) -> anyhow::Result<AgentClient> {
    Ok(AgentClient::new(
        &s.agent_url,
        trust,
        id,
        &ProxySettings::default(),
        Duration::from_secs(300),
    )?)
}

/// Registers one device: a fresh P-256 key and CSR, as the agent makes them.
async fn enroll(
    s: &ServerArgs,
    trust: &ServerTrust,
    inv: &DeviceInventory,
) -> anyhow::Result<Enrolled> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let csr = CertificateParams::default()
        .serialize_request(&key)?
        .pem()?;
    let req = RegisterRequest {
        enrollment_token: s.token.clone(),
        hostname: inv.hostname.clone(),
        machine_id: inv.machine_id.clone(),
        os: inv.os_pretty_name.clone(),
        arch: "x86_64".into(),
        agent_version: "loadgen".into(),
        csr,
    };
    let client = agent_client(s, trust, None)?;
    let mut attempt = 0;
    loop {
        match client.register(&req).await {
            Ok(r) => {
                return Ok(Enrolled {
                    device_id: r.device_id,
                    identity: DeviceIdentity {
                        cert_pem: r.device_cert,
                        key_pem: key.serialize_pem(),
                    },
                });
            }
            Err(e) if e.is_retryable() && attempt < 20 => {
                attempt += 1;
                let wait = e.retry_after().unwrap_or(Duration::from_millis(200));
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e).context("registering a virtual agent"),
        }
    }
}

/// The upload of `inv` taken now, zstd-compressed as the agent sends it.
fn encode_scan(inv: &DeviceInventory) -> anyhow::Result<(Uuid, Vec<u8>)> {
    let scan_id = Uuid::now_v7();
    let upload = ScanUpload {
        scan_id,
        scanned_at: OffsetDateTime::now_utc(),
        agent_version: "0.1.0-loadgen".into(),
        duration_ms: 1500 + inv.packages.len() as u64 / 10,
        host: HostInfo {
            hostname: inv.hostname.clone(),
            machine_id: inv.machine_id.clone(),
            os_release: OsReleaseInfo {
                id: inv.os_id.clone(),
                version_id: Some(inv.os_version_id.clone()),
                version_codename: None,
                pretty_name: Some(inv.os_pretty_name.clone()),
            },
            kernel: "6.1.0-28-amd64".into(),
            arch: "x86_64".into(),
            host_kind: if inv.index.is_multiple_of(3) {
                "bare_metal"
            } else {
                "vm"
            }
            .into(),
        },
        packages: inv.packages.clone(),
        runtimes: runtimes(inv.index),
        errors: Vec::new(),
    };
    let json = serde_json::to_vec(&upload)?;
    Ok((scan_id, zstd::encode_all(json.as_slice(), 3)?))
}

/// A few runtimes per host, a mix of supported and end-of-life cycles.
fn runtimes(index: u64) -> Vec<Runtime> {
    const PY: [&str; 4] = ["3.8.18", "3.10.12", "3.11.2", "3.12.7"];
    const NODE: [&str; 3] = ["16.20.2", "18.19.1", "20.11.1"];
    let mut r = vec![Runtime {
        kind: "python".into(),
        version: PY[index as usize % PY.len()].into(),
        path: "/usr/bin/python3".into(),
        vendor: None,
    }];
    if index.is_multiple_of(2) {
        r.push(Runtime {
            kind: "node".into(),
            version: NODE[index as usize % NODE.len()].into(),
            path: "/usr/bin/node".into(),
            vendor: None,
        });
    }
    r
}

/// Uploads with retries on 429/503, as the agent's spool would; returns the request time.
async fn upload(client: &AgentClient, body: Vec<u8>) -> anyhow::Result<Duration> {
    let mut attempt = 0;
    loop {
        let t = Instant::now();
        match client.upload_scan(body.clone(), "zstd").await {
            Ok(_) => return Ok(t.elapsed()),
            Err(e) if e.is_retryable() && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_millis(200))).await;
            }
            Err(e) => return Err(e).context("uploading a scan"),
        }
    }
}

fn rss(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "server RSS: not measured (no --server-pid)".into();
    };
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return format!("server RSS: /proc/{pid}/status unreadable");
    };
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| format!("{:.0} MiB", kib as f64 / 1024.0))
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "server RSS: {} now, {} peak (VmHWM)",
        field("VmRSS:"),
        field("VmHWM:")
    )
}

fn load_catalog(a: &CatalogArgs) -> anyhow::Result<Catalog> {
    let t = Instant::now();
    let osv = a.osv.is_dir().then_some(a.osv.as_path());
    let cat = Catalog::load(osv)?;
    println!(
        "catalog: {} OS profiles ({}), {} PyPI names, {} Go modules, {} distinct versions; {:.1} s",
        cat.os.len(),
        cat.os
            .iter()
            .map(|p| format!("{} {}", p.ecosystem, p.entries.len()))
            .collect::<Vec<_>>()
            .join(", "),
        cat.python.len(),
        cat.go.len(),
        cat.distinct_versions(),
        t.elapsed().as_secs_f64()
    );
    Ok(cat)
}

/// `fleet catalog`.
pub async fn catalog(a: CatalogArgs) -> anyhow::Result<()> {
    let cat = load_catalog(&a)?;
    let g = Generator::new(&cat, a.seed, &a.prefix);
    for i in 0..5 {
        let d = g.device(i, a.packages);
        let mut by_eco: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in &d.packages {
            *by_eco.entry(p.ecosystem.as_str()).or_default() += 1;
        }
        println!(
            "{} {}: {} packages {:?}",
            d.hostname,
            d.os_pretty_name,
            d.packages.len(),
            by_eco
        );
    }
    Ok(())
}

/// Runs `work(i)` for `i in 0..n` on `concurrency` tasks.
async fn parallel<F, Fut, T>(n: usize, concurrency: usize, work: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let results: Arc<Mutex<Vec<Option<T>>>> = Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, work, results) = (next.clone(), work.clone(), results.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                let v = work(i).await?;
                results.lock().await[i] = Some(v);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let results = std::mem::take(&mut *results.lock().await);
    Ok(results.into_iter().flatten().collect())
}

/// `fleet scan`: enrollment, then timed rounds of uploads until the server has ingested them.
pub async fn scan(a: ScanArgs) -> anyhow::Result<()> {
    let cat = Arc::new(load_catalog(&a.catalog)?);
    let api = Arc::new(Api::login(&a.server).await?);
    let trust = Arc::new(trust(&a.server)?);
    let server = Arc::new(a.server.clone());
    let (seed, prefix) = (a.catalog.seed, a.catalog.prefix.clone());
    let (first, per_device) = (a.first, a.catalog.packages);
    println!(
        "fleet scan: {} devices x {} packages, concurrency {}, seed {}",
        a.devices, per_device, a.concurrency, seed
    );

    // Enrollment (not part of the upload throughput).
    let t = Instant::now();
    let enrolled: Vec<Enrolled> = {
        let (cat, server, trust, prefix) =
            (cat.clone(), server.clone(), trust.clone(), prefix.clone());
        parallel(a.devices, a.concurrency, move |i| {
            let (cat, server, trust, prefix) =
                (cat.clone(), server.clone(), trust.clone(), prefix.clone());
            async move {
                let g = Generator::new(&cat, seed, &prefix);
                // The identity needs no packages: a tiny inventory gives the host facts.
                let inv = g.device(first + i as u64, 1);
                enroll(&server, &trust, &inv).await
            }
        })
        .await?
    };
    let enrolled = Arc::new(enrolled);
    println!(
        "enrolled {} devices in {:.1} s ({:.0} registrations/s)",
        a.devices,
        t.elapsed().as_secs_f64(),
        a.devices as f64 / t.elapsed().as_secs_f64()
    );

    for round in 0..=a.rescans {
        // Bodies are built before the clock starts when they fit comfortably in memory, so
        // the client's own JSON and zstd work does not count against the server.
        let pre = a.devices * per_device <= 4_000_000;
        let build = {
            let (cat, prefix) = (cat.clone(), prefix.clone());
            let churn = a.churn;
            move |i: usize| -> anyhow::Result<Vec<u8>> {
                let g = Generator::new(&cat, seed, &prefix);
                let mut inv = g.device(first + i as u64, per_device);
                for r in 1..=round {
                    inv = g.churn(&inv, r, churn);
                }
                Ok(encode_scan(&inv)?.1)
            }
        };
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(if pre {
            let t = Instant::now();
            let b = tokio::task::spawn_blocking({
                let build = build.clone();
                let n = a.devices;
                move || (0..n).map(build).collect::<anyhow::Result<Vec<_>>>()
            })
            .await??;
            let bytes: usize = b.iter().map(Vec::len).sum();
            println!(
                "round {round}: {} bodies built in {:.1} s ({:.1} MiB zstd)",
                b.len(),
                t.elapsed().as_secs_f64(),
                bytes as f64 / 1048576.0
            );
            b
        } else {
            Vec::new()
        });
        let before = api.jobs_done("ingest_scan").await?;
        let started = Instant::now();
        let since = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        let lat: Vec<Duration> = {
            let (server, trust, enrolled, bodies) = (
                server.clone(),
                trust.clone(),
                enrolled.clone(),
                bodies.clone(),
            );
            let build = Arc::new(build);
            parallel(a.devices, a.concurrency, move |i| {
                let (server, trust, enrolled, bodies, build) = (
                    server.clone(),
                    trust.clone(),
                    enrolled.clone(),
                    bodies.clone(),
                    build.clone(),
                );
                async move {
                    let body = match bodies.get(i) {
                        Some(b) => b.clone(),
                        None => tokio::task::spawn_blocking(move || build(i)).await??,
                    };
                    let client = agent_client(&server, &trust, Some(&enrolled[i].identity))?;
                    upload(&client, body).await
                }
            })
            .await?
        };
        let uploaded = started.elapsed();
        let mut req = Samples::default();
        for d in lat {
            req.push(d);
        }
        println!(
            "round {round}: {} uploads accepted in {:.2} s ({:.0} uploads/s); upload request: {}",
            a.devices,
            uploaded.as_secs_f64(),
            a.devices as f64 / uploaded.as_secs_f64(),
            req.summary()
        );
        if a.no_wait {
            continue;
        }
        let target = before + a.devices as u64;
        let deadline = Instant::now() + Duration::from_secs(3600);
        loop {
            if api.jobs_done("ingest_scan").await? >= target {
                break;
            }
            if Instant::now() > deadline {
                bail!("the server did not ingest the uploads within an hour");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let done = started.elapsed();
        println!(
            "round {round}: {} scans ingested and correlated in {:.2} s: {:.1} scans/s ({:.0} packages/s)",
            a.devices,
            done.as_secs_f64(),
            a.devices as f64 / done.as_secs_f64(),
            (a.devices * per_device) as f64 / done.as_secs_f64()
        );
        // Server-side view of the same scans: queueing plus ingest per scan.
        let (queue, ingest) = scan_history(&api, since).await?;
        println!("round {round}: received -> applied: {}", queue.summary());
        println!("round {round}: ingest_ms (server): {}", ingest.summary());
        println!("round {round}: {}", rss(a.server.server_pid));
    }
    Ok(())
}

/// Per-scan `received_at → applied_at` and `ingest_ms` of the scans received since `since`.
async fn scan_history(api: &Api, since: OffsetDateTime) -> anyhow::Result<(Samples, Samples)> {
    let since = since.format(&time::format_description::well_known::Rfc3339)?;
    let (mut queue, mut ingest) = (Samples::default(), Samples::default());
    let mut page = 1;
    loop {
        let body = api
            .get(&format!(
                "/api/v1/scans?page_size=500&page={page}&since={}",
                since.replace('+', "%2B").replace(':', "%3A")
            ))
            .await?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        for it in &items {
            let parse = |k: &str| {
                it[k].as_str().and_then(|s| {
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
                })
            };
            if let (Some(r), Some(ap)) = (parse("received_at"), parse("applied_at")) {
                queue.push(Duration::try_from(ap - r).unwrap_or_default());
            }
            if let Some(ms) = it["ingest_ms"].as_u64() {
                ingest.push(Duration::from_millis(ms));
            }
        }
        if items.len() < 500 {
            break;
        }
        page += 1;
    }
    Ok((queue, ingest))
}

/// `fleet latency`: upload → findings queryable for new devices, then unchanged re-scans.
pub async fn latency(a: LatencyArgs) -> anyhow::Result<()> {
    let cat = load_catalog(&a.catalog)?;
    let api = Api::login(&a.server).await?;
    let trust = trust(&a.server)?;
    let g = Generator::new(&cat, a.catalog.seed, &a.catalog.prefix);
    println!(
        "fleet latency: {} new devices x {} packages, one after the other",
        a.repeat, a.catalog.packages
    );
    let (mut first, mut rescan) = (Samples::default(), Samples::default());
    let (mut first_ingest, mut rescan_ingest) = (Samples::default(), Samples::default());
    // The upload request alone (until the 202), to tell the gateway's share from the job's.
    let (mut first_upload, mut rescan_upload) = (Samples::default(), Samples::default());
    let mut expected = api.jobs_done("ingest_scan").await?;
    for i in 0..a.repeat {
        // The previous device's jobs bump the counter after their data is visible: wait for
        // them, so that the counter below only moves for this device's first scan.
        let settle = Instant::now();
        while api.jobs_done("ingest_scan").await? < expected {
            if settle.elapsed() > Duration::from_secs(600) {
                bail!("the previous device's ingest jobs never completed");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        expected += 2;
        let inv = g.device(a.first + i as u64, a.catalog.packages);
        let e = enroll(&a.server, &trust, &inv).await?;
        let client = agent_client(&a.server, &trust, Some(&e.identity))?;
        // The connection is warmed up by a config fetch, as a running agent's would be.
        client.config().await?;

        // First scan: findings are queryable when the scan's ingest job has completed (the
        // new versions' findings and the fan-out of the known ones are two statements, so a
        // non-empty findings list alone can be partial). The job counter is polled; the
        // findings list is read once at the end to report the count.
        let (scan_id, body) = encode_scan(&inv)?;
        let before = api.jobs_done("ingest_scan").await?;
        let t = Instant::now();
        upload(&client, body).await?;
        first_upload.push(t.elapsed());
        let findings_path = format!("/api/v1/devices/{}/findings?page_size=1", e.device_id);
        let elapsed = loop {
            if api.jobs_done("ingest_scan").await? > before {
                break t.elapsed();
            }
            if t.elapsed() > Duration::from_secs(600) {
                bail!(
                    "the first scan of device {} was not ingested in 10 minutes",
                    e.device_id
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let findings = api.get(&findings_path).await?["total"]
            .as_u64()
            .unwrap_or(0);
        first.push(elapsed);
        let ms = scan_ingest_ms(&api, e.device_id, scan_id).await?;
        first_ingest.push(Duration::from_millis(ms));

        // Unchanged re-scan: same inventory, new scan id; poll the scan's status.
        let (scan_id, body) = encode_scan(&inv)?;
        let t = Instant::now();
        upload(&client, body).await?;
        rescan_upload.push(t.elapsed());
        let path = format!(
            "/api/v1/scans?device_id={}&status=applied&page_size=1",
            e.device_id
        );
        let again = loop {
            if api.get(&path).await?["total"].as_u64().unwrap_or(0) >= 2 {
                break t.elapsed();
            }
            if t.elapsed() > Duration::from_secs(600) {
                bail!(
                    "re-scan of device {} not applied after 10 minutes",
                    e.device_id
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        rescan.push(again);
        let ms2 = scan_ingest_ms(&api, e.device_id, scan_id).await?;
        rescan_ingest.push(Duration::from_millis(ms2));
        println!(
            "device {} ({}, {} packages): first scan -> {findings} findings queryable in {:.0} ms (ingest_ms {ms}); unchanged re-scan applied in {:.0} ms (ingest_ms {ms2})",
            inv.hostname,
            inv.os_pretty_name,
            inv.packages.len(),
            elapsed.as_secs_f64() * 1000.0,
            again.as_secs_f64() * 1000.0
        );
    }
    println!(
        "first scan, upload -> findings queryable: {}",
        first.summary()
    );
    println!("first scan, server ingest_ms: {}", first_ingest.summary());
    println!("first scan, upload request: {}", first_upload.summary());
    println!("unchanged re-scan, upload -> applied: {}", rescan.summary());
    println!(
        "unchanged re-scan, server ingest_ms: {}",
        rescan_ingest.summary()
    );
    println!(
        "unchanged re-scan, upload request: {}",
        rescan_upload.summary()
    );
    println!("{}", rss(a.server.server_pid));
    Ok(())
}

async fn scan_ingest_ms(api: &Api, device: Uuid, scan: Uuid) -> anyhow::Result<u64> {
    let body = api
        .get(&format!("/api/v1/scans?device_id={device}&page_size=50"))
        .await?;
    Ok(body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|it| it["scan_id"].as_str() == Some(&scan.to_string()))
        .and_then(|it| it["ingest_ms"].as_u64())
        .unwrap_or(0))
}

/// `fleet api`: each endpoint and page, sequentially, with percentiles.
pub async fn api(a: ApiArgs) -> anyhow::Result<()> {
    let api = Api::login(&a.server).await?;
    let devices = api
        .get("/api/v1/devices?page_size=1&sort=-findings")
        .await?;
    let total = devices["total"].as_u64().unwrap_or(0);
    let device = devices["items"][0]["id"].as_str().unwrap_or("").to_owned();
    println!(
        "fleet api: {total} devices; {} timed requests per path after 3 warm-up requests",
        a.requests
    );
    let endpoints: Vec<String> = if a.endpoints.is_empty() {
        DEFAULT_ENDPOINTS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        a.endpoints.clone()
    };
    // The grouped findings list counts advisories live until the server's background recount
    // has folded the latest ingest in; time the steady state, and say how long it took.
    let t = Instant::now();
    let mut pending = api.advisory_counts_pending().await?;
    if pending > 0 {
        println!("waiting for the server's advisory recount ({pending} changes pending)");
        while pending > 0 && t.elapsed() < Duration::from_secs(1800) {
            tokio::time::sleep(Duration::from_secs(2)).await;
            pending = api.advisory_counts_pending().await?;
        }
        println!(
            "advisory recount {} after {:.1} s",
            if pending == 0 { "done" } else { "NOT done" },
            t.elapsed().as_secs_f64()
        );
    }
    let token = api.token();
    let bearer = format!("Bearer {token}");
    let cookie = format!("sentari_session={token}");
    println!("| path | status | bytes | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let targets = endpoints
        .iter()
        .map(|p| (p.clone(), true))
        .chain(a.pages.iter().map(|p| (p.clone(), false)));
    for (shown, is_api) in targets {
        let path = shown.replace("{device}", &device);
        let header = if is_api {
            ("authorization", bearer.as_str())
        } else {
            ("cookie", cookie.as_str())
        };
        let mut s = Samples::default();
        let (mut status, mut bytes) = (0u16, 0usize);
        for n in 0..a.requests + 3 {
            let t = Instant::now();
            let (st, _, body) = api.client.get_bytes(&path, &[header]).await?;
            let d = t.elapsed();
            (status, bytes) = (st, body.len());
            if n >= 3 {
                s.push(d);
            }
            if st == 404 {
                break;
            }
        }
        let ms = |p: f64| format!("{:.1}", s.percentile(p).as_secs_f64() * 1000.0);
        if status == 404 {
            println!("| `{shown}` | 404 (not built yet) | | | | | |");
            continue;
        }
        println!(
            "| `{shown}` | {status} | {bytes} | {} | {} | {} | {} |",
            ms(50.0),
            ms(95.0),
            ms(99.0),
            ms(100.0)
        );
    }
    println!("{}", rss(a.server.server_pid));
    Ok(())
}
