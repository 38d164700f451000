//! Scans uploaded by agents, stored once per `scan_id`.
//!
//! An agent retries an upload whenever it is unsure the server got it (timeouts, restarts,
//! spooled scans), so storing a scan is idempotent: the first upload inserts the scan and
//! enqueues its ingest job in the same transaction, and every repeat finds the row and answers
//! the same way without storing or enqueuing anything again.

use serde::Serialize;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::jobs::{NewJob, insert_job};
use crate::store::{BeginWrite, Store, with_pool};
use crate::ts::Ts;

/// A scan to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScan {
    /// Chosen by the agent; the idempotency key.
    pub scan_id: Uuid,
    /// The uploading device.
    pub device_id: Uuid,
    /// When the agent finished the scan.
    pub scanned_at: OffsetDateTime,
    /// How many packages it holds.
    pub packages_received: u64,
}

/// What storing a scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanStored {
    /// `false` when the scan was already stored (a repeated upload).
    pub inserted: bool,
    /// Packages of the stored scan (the first upload's count for a repeat).
    pub packages_received: u64,
}

/// One stored scan, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    pub scan_id: Uuid,
    pub device_id: Uuid,
    pub scanned_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub packages_received: u64,
}

#[derive(sqlx::FromRow)]
struct ScanRecord {
    scan_id: Uuid,
    device_id: Uuid,
    scanned_at: Ts,
    received_at: Ts,
    packages_received: i64,
}

impl From<ScanRecord> for ScanRow {
    fn from(r: ScanRecord) -> Self {
        ScanRow {
            scan_id: r.scan_id,
            device_id: r.device_id,
            scanned_at: r.scanned_at.get(),
            received_at: r.received_at.get(),
            packages_received: u64::try_from(r.packages_received).unwrap_or(0),
        }
    }
}

impl Store {
    /// Stores a scan and enqueues `job` for it, once per `scan_id`, and records the device as
    /// seen. A repeat of a scan already stored for the same device changes nothing; a
    /// `scan_id` already used by another device is a [`StoreError::Conflict`].
    pub async fn store_scan<T: Serialize + Sync>(
        &self,
        scan: &NewScan,
        payload: &T,
        job: &NewJob,
    ) -> Result<ScanStored, StoreError> {
        self.store_scan_inner(scan, payload, None, job).await
    }

    /// Like [`Store::store_scan`], with the upload stored as zstd-compressed JSON (`body`)
    /// instead of a parsed JSON column: much cheaper for large scans on both backends.
    pub async fn store_scan_compressed(
        &self,
        scan: &NewScan,
        body: &[u8],
        job: &NewJob,
    ) -> Result<ScanStored, StoreError> {
        self.store_scan_inner(scan, &serde_json::Value::Null, Some(body), job)
            .await
    }

    async fn store_scan_inner<T: Serialize + Sync>(
        &self,
        scan: &NewScan,
        payload: &T,
        body: Option<&[u8]>,
        job: &NewJob,
    ) -> Result<ScanStored, StoreError> {
        let packages = i64::try_from(scan.packages_received)
            .map_err(|_| StoreError::Invalid("too many packages".into()))?;
        self.timed("store_scan", async {
            let now = Ts::now();
            let stored = with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                let n = sqlx::query(
                    "INSERT INTO scans (scan_id, device_id, scanned_at, received_at, packages_received, payload, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scan_id) DO NOTHING",
                )
                .bind(scan.scan_id)
                .bind(scan.device_id)
                .bind(Ts::new(scan.scanned_at))
                .bind(now)
                .bind(packages)
                .bind(Json(payload))
                .bind(body)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let stored = if n == 1 {
                    insert_job!(&mut *tx, job, now)?;
                    ScanStored {
                        inserted: true,
                        packages_received: scan.packages_received,
                    }
                } else {
                    let (device, count): (Uuid, i64) = sqlx::query_as(
                        "SELECT device_id, packages_received FROM scans WHERE scan_id = $1",
                    )
                    .bind(scan.scan_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if device != scan.device_id {
                        return Err(StoreError::Conflict(format!(
                            "scan {} was uploaded by another device",
                            scan.scan_id
                        )));
                    }
                    ScanStored {
                        inserted: false,
                        packages_received: u64::try_from(count).unwrap_or(0),
                    }
                };
                sqlx::query("UPDATE devices SET last_seen = $2 WHERE id = $1")
                    .bind(scan.device_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                stored
            });
            if stored.inserted {
                self.notify_job_enqueued();
            }
            Ok(stored)
        })
        .await
    }

    /// The scans of a device, oldest received first.
    pub async fn list_scans(&self, device_id: Uuid) -> Result<Vec<ScanRow>, StoreError> {
        self.timed("list_scans", async {
            let rows: Vec<ScanRecord> = with_pool!(self, |pool| {
                sqlx::query_as(
                "SELECT scan_id, device_id, scanned_at, received_at, packages_received FROM scans \
                 WHERE device_id = $1 ORDER BY received_at, scan_id"
            )
            .bind(device_id)
            .fetch_all(pool)
            .await?
            });
            Ok(rows.into_iter().map(ScanRow::from).collect())
        })
        .await
    }

    /// The stored payload of a scan, as JSON.
    pub async fn scan_payload(
        &self,
        scan_id: Uuid,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        self.timed("scan_payload", async {
            let v: Option<Json<serde_json::Value>> = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT payload FROM scans WHERE scan_id = $1"
            )
            .bind(scan_id)
            .fetch_optional(pool)
            .await?);
            Ok(v.map(|j| j.0))
        })
        .await
    }
}
