//! Users, sessions, API keys and the audit chain on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use sentari_core::auth::{Email, IdentityProvider, Role};
use sentari_store::testing::TestDb;
use sentari_store::{AuditFilter, NewApiKey, NewAuditEntry, NewSession, NewUser, StoreError};
use serde_json::json;
use time::OffsetDateTime;

conformance!(
    users_one_owner_and_case_insensitive_email,
    first_user_is_created_once,
    login_failures_count_in_window,
    sessions_and_api_keys_round_trip,
    audit_chain_appends_lists_and_verifies
);

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        display_name: "Test".into(),
        role,
        provider: IdentityProvider::Local,
        password_hash: Some("$argon2id$fake".into()),
        external_id: None,
    }
}

async fn users_one_owner_and_case_insensitive_email(db: &TestDb) {
    let s = db.store();
    let owner = s
        .create_user(&new_user("Owner@Example.com", Role::Owner))
        .await
        .unwrap();
    assert_eq!(owner.email, "owner@example.com");
    let e = s
        .create_user(&new_user("OWNER@example.com", Role::Viewer))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let e = s
        .create_user(&new_user("two@example.com", Role::Owner))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let alice = s
        .create_user(&new_user("alice@example.com", Role::Viewer))
        .await
        .unwrap();
    assert_eq!(
        s.set_user_role(alice.id, Role::Admin).await.unwrap().role,
        Role::Admin
    );
    assert!(matches!(
        s.set_user_role(owner.id, Role::Admin).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.set_user_role(alice.id, Role::Owner).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.set_user_active(owner.id, false).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!s.set_user_active(alice.id, false).await.unwrap().active);
    s.set_user_active(alice.id, true).await.unwrap();
    s.transfer_ownership(owner.id, alice.id).await.unwrap();
    assert_eq!(
        s.get_user(alice.id).await.unwrap().unwrap().role,
        Role::Owner
    );
    assert_eq!(
        s.get_user(owner.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    let found = s
        .get_user_by_email(&Email::parse("ALICE@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(s.list_users().await.unwrap().len(), 2);
}

async fn first_user_is_created_once(db: &TestDb) {
    let s = db.store();
    let (ua, ub) = (
        new_user("a@example.com", Role::Owner),
        new_user("b@example.com", Role::Owner),
    );
    let a = s.create_first_user(&ua);
    let b = s.create_first_user(&ub);
    let (a, b) = tokio::join!(a, b);
    let created = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
    assert_eq!(created, 1);
    assert_eq!(s.count_users().await.unwrap(), 1);
}

async fn login_failures_count_in_window(db: &TestDb) {
    let s = db.store();
    let u = s
        .create_user(&new_user("f@example.com", Role::Viewer))
        .await
        .unwrap();
    let since = OffsetDateTime::now_utc() - Duration::from_secs(900);
    for i in 1..=3 {
        assert_eq!(
            s.record_login_failure(u.id, Some("10.0.0.1"), since)
                .await
                .unwrap(),
            i
        );
    }
    let (n, last) = s.login_failures_since(u.id, since).await.unwrap();
    assert_eq!(n, 3);
    assert!(last.is_some());
    let future = OffsetDateTime::now_utc() + Duration::from_secs(1);
    assert_eq!(s.login_failures_since(u.id, future).await.unwrap().0, 0);
    s.record_login(u.id).await.unwrap();
    assert_eq!(s.login_failures_since(u.id, since).await.unwrap().0, 0);
    assert!(
        s.get_user(u.id)
            .await
            .unwrap()
            .unwrap()
            .last_login_at
            .is_some()
    );
}

async fn sessions_and_api_keys_round_trip(db: &TestDb) {
    let s = db.store();
    let u = s
        .create_user(&new_user("s@example.com", Role::Analyst))
        .await
        .unwrap();
    let exp = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let id = s
        .create_session(&NewSession {
            token_hash: "h1".into(),
            user_id: u.id,
            expires_at: exp,
            ip: Some("127.0.0.1".into()),
            user_agent: None,
        })
        .await
        .unwrap();
    let got = s.session_by_token_hash("h1").await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.user_id, u.id);
    s.touch_session(id).await.unwrap();
    assert!(s.session_by_token_hash("h2").await.unwrap().is_none());
    assert!(s.delete_session(id).await.unwrap());
    assert!(s.session_by_token_hash("h1").await.unwrap().is_none());

    let k = s
        .create_api_key(&NewApiKey {
            user_id: u.id,
            name: "ci".into(),
            prefix: "sk_abcd".into(),
            key_hash: "kh".into(),
            role: Role::Viewer,
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(s.api_key_by_hash("kh").await.unwrap().unwrap().id, k.id);
    assert_eq!(s.list_api_keys(u.id).await.unwrap().len(), 1);
    assert!(s.revoke_api_key(k.id, u.id).await.unwrap());
    assert!(!s.revoke_api_key(k.id, u.id).await.unwrap());
    assert!(
        s.api_key_by_hash("kh")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

async fn audit_chain_appends_lists_and_verifies(db: &TestDb) {
    let s = db.store();
    assert!(s.verify_audit_chain().await.unwrap().ok());
    for i in 0..5 {
        s.append_audit(&NewAuditEntry {
            actor: if i % 2 == 0 {
                "a@x".into()
            } else {
                "b@x".into()
            },
            actor_ip: Some("127.0.0.1".into()),
            action: "user.create".into(),
            target: Some(format!("u{i}@x")),
            before: None,
            after: Some(json!({"role": "viewer", "n": i, "z": {"b": 1, "a": [1.5, "é"]}})),
        })
        .await
        .unwrap();
    }
    let r = s.verify_audit_chain().await.unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.checked, 5);
    let (items, total) = s
        .list_audit(&AuditFilter {
            actor: Some("a@x".into()),
            page: 1,
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].seq, 5);

    // Tampering directly in the database is detected at the first broken link.
    execute(db, "UPDATE audit_log SET actor = 'mallory@x' WHERE seq = 3").await;
    let r = s.verify_audit_chain().await.unwrap();
    assert_eq!(r.first_broken.as_ref().map(|b| b.seq), Some(3), "{r:?}");
    execute(db, "UPDATE audit_log SET actor = 'a@x' WHERE seq = 3").await;
    assert!(s.verify_audit_chain().await.unwrap().ok());
    execute(db, "DELETE FROM audit_log WHERE seq = 2").await;
    let r = s.verify_audit_chain().await.unwrap();
    assert_eq!(r.first_broken.as_ref().map(|b| b.seq), Some(2), "{r:?}");
}

/// Runs one statement behind the store's back, as an attacker with database access would.
async fn execute(db: &TestDb, sql: &'static str) {
    use sqlx::Connection;
    match db.backend() {
        sentari_store::BackendKind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        sentari_store::BackendKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}
