//! `sentari status`: is the database reachable, are migrations current, how deep are the queues,
//! and which server processes are alive — the first look of the runbook, like
//! `supervisorctl status`.

use std::process::ExitCode;
use std::time::Duration;

use time::OffsetDateTime;

use super::{connect, format_age};
use crate::app::redact_url;
use crate::config::Config;

/// Processes whose heartbeat is older than this are reported as gone.
const ALIVE_WINDOW: Duration = Duration::from_secs(60);

/// Prints the status report; exit 1 when the database or migrations are not healthy.
pub async fn run(config: &Config) -> ExitCode {
    let url = config.paths().database_url;
    let Some(store) = connect(config).await else {
        println!("{:<12} {:<8} {}", "database", "DOWN", redact_url(&url));
        return ExitCode::from(1);
    };
    let mut healthy = true;
    match store.ping().await {
        Ok(()) => println!("{:<12} {:<8} {}", "database", "OK", redact_url(&url)),
        Err(e) => {
            println!(
                "{:<12} {:<8} {} ({e})",
                "database",
                "DOWN",
                redact_url(&url)
            );
            return ExitCode::from(1);
        }
    }
    match store.migration_status().await {
        Ok(m) if m.current => println!(
            "{:<12} {:<8} {}/{} applied",
            "migrations", "OK", m.applied, m.known
        ),
        Ok(m) => {
            healthy = false;
            println!(
                "{:<12} {:<8} {}/{} applied; pending: {} (run `sentari migrate`)",
                "migrations",
                "PENDING",
                m.applied,
                m.known,
                m.pending.join(", ")
            );
        }
        Err(e) => {
            healthy = false;
            println!("{:<12} {:<8} {e}", "migrations", "ERROR");
        }
    }
    match store.queue_stats().await {
        Ok(stats) => {
            let mut by_queue: std::collections::BTreeMap<String, (u64, u64, u64, u64)> =
                Default::default();
            for s in &stats {
                let e = by_queue.entry(s.queue.clone()).or_default();
                e.0 += s.pending;
                e.1 += s.running;
                e.2 += s.retrying;
                e.3 += s.dead;
            }
            if by_queue.is_empty() {
                println!("{:<12} {:<8} empty", "queues", "OK");
            }
            for (q, (p, r, rt, d)) in by_queue {
                let state = if d > 0 { "DEAD>0" } else { "OK" };
                println!(
                    "{:<12} {:<8} {q}: pending {p}, running {r}, retrying {rt}, dead {d}",
                    "queue", state
                );
            }
        }
        Err(e) => {
            healthy = false;
            println!("{:<12} {:<8} {e}", "queues", "ERROR");
        }
    }
    let now = OffsetDateTime::now_utc();
    match store.list_processes(now - ALIVE_WINDOW).await {
        Ok(procs) if procs.is_empty() => println!(
            "{:<12} {:<8} none seen in the last minute",
            "processes", "NONE"
        ),
        Ok(procs) => {
            for p in procs {
                let uptime = (now - p.started_at).unsigned_abs();
                let beat = (now - p.last_heartbeat).unsigned_abs();
                println!(
                    "sentari-{:<7} RUNNING  pid {}, host {}, uptime {}, last heartbeat {}s ago, version {}",
                    p.role,
                    p.pid,
                    p.host,
                    format_age(uptime),
                    beat.as_secs(),
                    p.version
                );
            }
        }
        Err(e) => println!("{:<12} {:<8} {e}", "processes", "ERROR"),
    }
    store.close().await;
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
