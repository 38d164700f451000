//! Devices, enrollment tokens and scans on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use sentari_store::testing::TestDb;
use sentari_store::{
    DeviceCert, DeviceEnrollment, NewEnrollmentToken, NewJob, NewScan, StoreError, TokenState,
};
use time::OffsetDateTime;
use uuid::Uuid;

conformance!(
    devices_enroll_reenroll_renew_and_delete,
    tokens_are_used_atomically,
    scans_are_stored_once
);

fn cert(n: u8) -> DeviceCert {
    DeviceCert {
        fingerprint: format!("{n:02x}").repeat(32),
        serial: format!("{n:02x}"),
        not_after: OffsetDateTime::now_utc() + Duration::from_secs(86400 * 365),
    }
}

fn enrollment(machine: &str) -> DeviceEnrollment {
    DeviceEnrollment {
        id: Uuid::now_v7(),
        machine_id: machine.into(),
        hostname: "h1".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        agent_version: "0.1.0".into(),
        tags: vec!["site:lab".into()],
    }
}

async fn devices_enroll_reenroll_renew_and_delete(db: &TestDb) {
    let s = db.store();
    let now = OffsetDateTime::now_utc();
    let d = s.enroll_device(&enrollment("m1"), &cert(1)).await.unwrap();
    assert_eq!(d.tags, vec!["site:lab".to_owned()]);
    assert_eq!(
        s.device_for_cert(&cert(1).fingerprint, "01", now)
            .await
            .unwrap()
            .unwrap()
            .id,
        d.id
    );
    // Re-enrolling the machine keeps the id and replaces the certificate at once.
    let again = s.enroll_device(&enrollment("m1"), &cert(2)).await.unwrap();
    assert_eq!(again.id, d.id);
    assert!(
        s.device_for_cert(&cert(1).fingerprint, "01", now)
            .await
            .unwrap()
            .is_none()
    );
    // Renewal keeps the previous certificate valid during the overlap only.
    assert!(
        s.renew_device_cert(d.id, &cert(3), now + Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        s.device_for_cert(&cert(2).fingerprint, "02", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.device_for_cert(&cert(2).fingerprint, "02", now + Duration::from_secs(120))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.device_for_cert(&cert(3).fingerprint, "03", now)
            .await
            .unwrap()
            .is_some()
    );
    // A matching fingerprint with another serial is not enough.
    assert!(
        s.device_for_cert(&cert(3).fingerprint, "04", now)
            .await
            .unwrap()
            .is_none()
    );
    s.touch_device(d.id, now).await.unwrap();
    assert!(
        s.get_device(d.id)
            .await
            .unwrap()
            .unwrap()
            .last_seen
            .is_some()
    );
    assert!(s.delete_device(d.id).await.unwrap());
    assert!(
        s.device_for_cert(&cert(3).fingerprint, "03", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.list_devices().await.unwrap().is_empty());
}

async fn tokens_are_used_atomically(db: &TestDb) {
    let s = db.store();
    let now = OffsetDateTime::now_utc();
    let id = s
        .create_enrollment_token(&NewEnrollmentToken {
            token_hash: "a".repeat(64),
            tags: vec!["k:v".into()],
            max_uses: Some(3),
            expires_at: None,
        })
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.use_enrollment_token(id, now).await.unwrap()
        }));
    }
    let mut won = 0;
    for h in handles {
        if h.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 3, "exactly max_uses enrollments win");
    let t = s
        .find_enrollment_token(&"a".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.state(now), TokenState::UsedUp);
    let exp = s
        .create_enrollment_token(&NewEnrollmentToken {
            token_hash: "b".repeat(64),
            tags: vec![],
            max_uses: None,
            expires_at: Some(now - Duration::from_secs(1)),
        })
        .await
        .unwrap();
    assert!(!s.use_enrollment_token(exp, now).await.unwrap());
    let t = s
        .find_enrollment_token(&"b".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.state(now), TokenState::Expired);
    assert!(s.revoke_enrollment_token(exp).await.unwrap());
    assert!(!s.revoke_enrollment_token(exp).await.unwrap());
    assert_eq!(s.list_enrollment_tokens().await.unwrap().len(), 2);
    assert!(matches!(
        s.create_enrollment_token(&NewEnrollmentToken {
            token_hash: "c".repeat(64),
            tags: vec![],
            max_uses: Some(0),
            expires_at: None,
        })
        .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn scans_are_stored_once(db: &TestDb) {
    let s = db.store();
    let d = s
        .enroll_device(&enrollment("m-scan"), &cert(9))
        .await
        .unwrap();
    let scan_id = Uuid::new_v4();
    let scan = NewScan {
        scan_id,
        device_id: d.id,
        scanned_at: OffsetDateTime::now_utc(),
        packages_received: 2,
    };
    let payload = serde_json::json!({"packages": [1, 2]});
    let job = NewJob::new("ingest_scan", serde_json::json!({"scan_id": scan_id}))
        .unique_key(format!("ingest_scan:{scan_id}"));
    let first = s.store_scan(&scan, &payload, &job).await.unwrap();
    assert!(first.inserted);
    let again = s.store_scan(&scan, &payload, &job).await.unwrap();
    assert!(!again.inserted);
    assert_eq!(again.packages_received, 2);
    assert_eq!(s.list_scans(d.id).await.unwrap().len(), 1);
    assert_eq!(s.scan_payload(scan_id).await.unwrap().unwrap(), payload);
    let jobs = s.list_jobs(Some("pending"), None, 100).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == "ingest_scan").count(), 1);
    assert!(
        s.get_device(d.id)
            .await
            .unwrap()
            .unwrap()
            .last_seen
            .is_some()
    );
    // Another device reusing the scan id is a conflict.
    let other = s
        .enroll_device(&enrollment("m-other"), &cert(10))
        .await
        .unwrap();
    let stolen = NewScan {
        device_id: other.id,
        ..scan
    };
    assert!(matches!(
        s.store_scan(&stolen, &payload, &job).await,
        Err(StoreError::Conflict(_))
    ));
}
