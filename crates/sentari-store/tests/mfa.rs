//! TOTP MFA state on both backends: pending and confirmed secrets, the last-used-step rule
//! (a code is accepted at most once, even by concurrent requests), recovery codes used once,
//! and the reset that forgets everything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sentari_core::auth::{Email, IdentityProvider, Role};
use sentari_store::testing::TestDb;
use sentari_store::{NewUser, StoreError};

conformance!(mfa_enroll_claim_steps_and_recovery_codes);

async fn mfa_enroll_claim_steps_and_recovery_codes(db: &TestDb) {
    let s = db.store();
    let u = s
        .create_user(&NewUser {
            email: Email::parse("mfa@example.com").unwrap(),
            display_name: String::new(),
            role: Role::Analyst,
            provider: IdentityProvider::Local,
            password_hash: None,
            external_id: None,
        })
        .await
        .unwrap();
    let st = s.mfa_state(u.id).await.unwrap();
    assert!(!st.enabled && st.secret.is_none() && st.pending_secret.is_none());

    // Enabling needs the pending secret it was confirmed against.
    s.set_mfa_pending(u.id, "v1:first").await.unwrap();
    s.set_mfa_pending(u.id, "v1:second").await.unwrap();
    let hashes: Vec<String> = (0..10).map(|i| format!("hash-{i}")).collect();
    let e = s
        .enable_mfa(u.id, "v1:first", 100, &hashes)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    s.enable_mfa(u.id, "v1:second", 100, &hashes).await.unwrap();
    let st = s.mfa_state(u.id).await.unwrap();
    assert!(st.enabled);
    assert_eq!(st.secret.as_deref(), Some("v1:second"));
    assert_eq!(st.pending_secret, None);
    assert_eq!(st.last_step, Some(100));
    assert_eq!(st.recovery_codes_left, 10);
    assert!(s.get_user(u.id).await.unwrap().unwrap().mfa_enabled);

    // Steps: only later ones, each once, and of concurrent claims of one step exactly one wins.
    assert!(!s.claim_totp_step(u.id, 100).await.unwrap());
    assert!(!s.claim_totp_step(u.id, 99).await.unwrap());
    let claims = futures_join(s, u.id, 101).await;
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
    assert!(s.claim_totp_step(u.id, 103).await.unwrap());
    assert!(!s.claim_totp_step(u.id, 102).await.unwrap());

    // Recovery codes: once each.
    assert!(s.use_recovery_code(u.id, "hash-3").await.unwrap());
    assert!(!s.use_recovery_code(u.id, "hash-3").await.unwrap());
    assert!(!s.use_recovery_code(u.id, "unknown").await.unwrap());
    assert_eq!(s.mfa_state(u.id).await.unwrap().recovery_codes_left, 9);

    // The reset forgets the secret, the step and the codes.
    s.clear_mfa(u.id).await.unwrap();
    let st = s.mfa_state(u.id).await.unwrap();
    assert!(!st.enabled);
    assert_eq!(
        (st.secret, st.last_step, st.recovery_codes_left),
        (None, None, 0)
    );
    assert!(!s.use_recovery_code(u.id, "hash-4").await.unwrap());
    assert!(s.claim_totp_step(u.id, 1).await.unwrap());

    s.set_external_id(u.id, "uid=mfa,dc=example").await.unwrap();
    assert_eq!(
        s.get_user(u.id)
            .await
            .unwrap()
            .unwrap()
            .external_id
            .as_deref(),
        Some("uid=mfa,dc=example")
    );
    let missing = uuid::Uuid::now_v7();
    assert!(matches!(
        s.clear_mfa(missing).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.mfa_state(missing).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Four concurrent claims of the same step.
async fn futures_join(s: &sentari_store::Store, user: uuid::Uuid, step: i64) -> Vec<bool> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_totp_step(user, step).await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
