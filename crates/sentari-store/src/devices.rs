//! Enrolled devices and the certificate each one authenticates with.
//!
//! The gateway authenticates an agent by looking up the fingerprint and serial of the client
//! certificate it presented: only a device row that names that certificate (or the previous one,
//! during the short overlap after a renewal) lets the request through. Deleting the row therefore
//! revokes the device at once, without a certificate revocation list.

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// The certificate a device currently holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCert {
    /// Lowercase hex SHA-256 of the certificate's DER.
    pub fingerprint: String,
    /// Lowercase hex serial number.
    pub serial: String,
    /// End of the certificate's validity.
    pub not_after: OffsetDateTime,
}

/// What an enrolling agent says about its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEnrollment {
    /// The id to use when the machine is new; an existing machine keeps its id.
    pub id: Uuid,
    /// `/etc/machine-id` or the platform equivalent.
    pub machine_id: String,
    /// Host name.
    pub hostname: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Agent version.
    pub agent_version: String,
    /// Tags carried over from the enrollment token.
    pub tags: Vec<String>,
}

/// One device row.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: Uuid,
    pub machine_id: String,
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub agent_version: String,
    pub tags: Vec<String>,
    pub cert: DeviceCert,
    /// The certificate replaced by the last renewal, accepted until `prev_valid_until`.
    pub prev_fingerprint: Option<String>,
    pub prev_serial: Option<String>,
    pub prev_valid_until: Option<OffsetDateTime>,
    pub enrolled_at: OffsetDateTime,
    pub last_seen: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct DeviceRecord {
    id: Uuid,
    machine_id: String,
    hostname: String,
    os: String,
    arch: String,
    agent_version: String,
    tags: Json<Vec<String>>,
    cert_fingerprint: String,
    cert_serial: String,
    cert_not_after: Ts,
    prev_fingerprint: Option<String>,
    prev_serial: Option<String>,
    prev_valid_until: Option<Ts>,
    enrolled_at: Ts,
    last_seen: Option<Ts>,
}

impl From<DeviceRecord> for Device {
    fn from(r: DeviceRecord) -> Self {
        Device {
            id: r.id,
            machine_id: r.machine_id,
            hostname: r.hostname,
            os: r.os,
            arch: r.arch,
            agent_version: r.agent_version,
            tags: r.tags.0,
            cert: DeviceCert {
                fingerprint: r.cert_fingerprint,
                serial: r.cert_serial,
                not_after: r.cert_not_after.get(),
            },
            prev_fingerprint: r.prev_fingerprint,
            prev_serial: r.prev_serial,
            prev_valid_until: r.prev_valid_until.map(Ts::get),
            enrolled_at: r.enrolled_at.get(),
            last_seen: r.last_seen.map(Ts::get),
        }
    }
}

const COLUMNS: &str = "id, machine_id, hostname, os, arch, agent_version, tags, cert_fingerprint, \
    cert_serial, cert_not_after, prev_fingerprint, prev_serial, prev_valid_until, enrolled_at, \
    last_seen";

impl Store {
    /// The device enrolled from `machine_id`, if any.
    pub async fn device_by_machine_id(
        &self,
        machine_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        self.timed("device_by_machine_id", async {
            let sql = format!("SELECT {COLUMNS} FROM devices WHERE machine_id = $1");
            let r: Option<DeviceRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(machine_id)
            .fetch_optional(pool)
            .await?);
            Ok(r.map(Device::from))
        })
        .await
    }

    /// The device with `id`, if any.
    pub async fn get_device(&self, id: Uuid) -> Result<Option<Device>, StoreError> {
        self.timed("get_device", async {
            let sql = format!("SELECT {COLUMNS} FROM devices WHERE id = $1");
            let r: Option<DeviceRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(r.map(Device::from))
        })
        .await
    }

    /// Every device, oldest enrollment first.
    pub async fn list_devices(&self) -> Result<Vec<Device>, StoreError> {
        self.timed("list_devices", async {
            let sql = format!("SELECT {COLUMNS} FROM devices ORDER BY enrolled_at, id");
            let rows: Vec<DeviceRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(Device::from).collect())
        })
        .await
    }

    /// Records an enrollment: a new machine gets a new row with `e.id`; a machine enrolled
    /// before keeps its row (and so its id and history) and gets the new certificate, which
    /// replaces the old one at once. Returns the stored device.
    pub async fn enroll_device(
        &self,
        e: &DeviceEnrollment,
        cert: &DeviceCert,
    ) -> Result<Device, StoreError> {
        self.timed("enroll_device", async {
            let now = Ts::now();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO devices (id, machine_id, hostname, os, arch, agent_version, tags, \
                   cert_fingerprint, cert_serial, cert_not_after, enrolled_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11) \
                 ON CONFLICT (machine_id) DO UPDATE SET hostname = excluded.hostname, \
                   os = excluded.os, arch = excluded.arch, agent_version = excluded.agent_version, \
                   tags = excluded.tags, cert_fingerprint = excluded.cert_fingerprint, \
                   cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after, \
                   prev_fingerprint = NULL, prev_serial = NULL, prev_valid_until = NULL, \
                   enrolled_at = excluded.enrolled_at, updated_at = excluded.updated_at"
            )
            .bind(e.id)
            .bind(&e.machine_id)
            .bind(&e.hostname)
            .bind(&e.os)
            .bind(&e.arch)
            .bind(&e.agent_version)
            .bind(Json(&e.tags))
            .bind(&cert.fingerprint)
            .bind(&cert.serial)
            .bind(Ts::new(cert.not_after))
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
            self.device_by_machine_id(&e.machine_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("device for machine {}", e.machine_id)))
        })
        .await
    }

    /// The device that holds the certificate with this fingerprint and serial, either as its
    /// current certificate or as the previous one while its overlap lasts at `now`.
    pub async fn device_for_cert(
        &self,
        fingerprint: &str,
        serial: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Device>, StoreError> {
        self.timed("device_for_cert", async {
            let sql = format!(
                "SELECT {COLUMNS} FROM devices WHERE (cert_fingerprint = $1 AND cert_serial = $2) \
                 OR (prev_fingerprint = $1 AND prev_serial = $2 AND prev_valid_until > $3)"
            );
            let r: Option<DeviceRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(fingerprint)
            .bind(serial)
            .bind(Ts::new(now))
            .fetch_optional(pool)
            .await?);
            Ok(r.map(Device::from))
        })
        .await
    }

    /// Replaces a device's certificate after a renewal; the old one stays valid until
    /// `overlap_until` so requests already in flight (or a crash before the new one is saved)
    /// do not lock the agent out.
    pub async fn renew_device_cert(
        &self,
        id: Uuid,
        cert: &DeviceCert,
        overlap_until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.timed("renew_device_cert", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE devices SET prev_fingerprint = cert_fingerprint, prev_serial = cert_serial, \
                   prev_valid_until = $2, cert_fingerprint = $3, cert_serial = $4, \
                   cert_not_after = $5, updated_at = $6 WHERE id = $1"
            )
            .bind(id)
            .bind(Ts::new(overlap_until))
            .bind(&cert.fingerprint)
            .bind(&cert.serial)
            .bind(Ts::new(cert.not_after))
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Records that the device was heard from at `at`.
    pub async fn touch_device(&self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        self.timed("touch_device", async {
            with_pool!(self, |pool| sqlx::query(
                "UPDATE devices SET last_seen = $2 WHERE id = $1"
            )
            .bind(id)
            .bind(Ts::new(at))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Deletes a device and its scans; its certificate stops working at once.
    pub async fn delete_device(&self, id: Uuid) -> Result<bool, StoreError> {
        self.timed("delete_device", async {
            let backend = self.backend();
            let n = crate::inventory::in_write_tx!(self, |tx| {
                // The device's packages go with it (ON DELETE CASCADE): first take the device
                // out of the device count of each version it has.
                let mut versions: Vec<i64> = sqlx::query_scalar(
                    "SELECT DISTINCT package_version_id FROM device_packages WHERE device_id = $1",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                versions.sort_unstable();
                crate::inventory::bump_device_counts!(&mut *tx, backend, &versions, -1);
                sqlx::query("DELETE FROM devices WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            });
            Ok(n == 1)
        })
        .await
    }
}
