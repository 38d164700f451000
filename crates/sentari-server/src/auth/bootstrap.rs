//! Creation of the first owner (admin guide §6): from `SENTARI_BOOTSTRAP_ADMIN_EMAIL` and
//! `_PASSWORD` when both are set, otherwise (for `sentari serve` only) `admin@localhost` with a
//! random password printed once to stdout and never logged. Skipped silently once any user exists.

use sentari_core::auth::{Email, IdentityProvider, Role, check_password_policy};
use sentari_store::{NewUser, Store};

use crate::auth::{AuthConfig, audit, password, tokens};
use crate::logging::SECURITY;

/// Why the bootstrap cannot proceed; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Only one of the two variables is set.
    #[error(
        "SENTARI_BOOTSTRAP_ADMIN_EMAIL and SENTARI_BOOTSTRAP_ADMIN_PASSWORD must be set together"
    )]
    Incomplete,
    /// The e-mail is not an address.
    #[error("SENTARI_BOOTSTRAP_ADMIN_EMAIL: {0}")]
    Email(#[from] sentari_core::auth::InvalidEmail),
    /// The password does not meet the policy.
    #[error(
        "SENTARI_BOOTSTRAP_ADMIN_PASSWORD is too weak: {0} (at least 10 characters with an uppercase letter, a lowercase letter, a digit and a special character)"
    )]
    Weak(#[from] sentari_core::auth::WeakPassword),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] password::PasswordError),
    /// The database refused.
    #[error("bootstrap owner could not be stored: {0}")]
    Store(#[from] sentari_store::StoreError),
}

/// The validated bootstrap credentials, checked before anything starts.
pub enum Plan {
    /// Use the operator's e-mail and password.
    Given(Email, String),
    /// Generate `admin@localhost` with a random password (only `serve`).
    Generate,
    /// Do nothing.
    Skip,
}

/// Validates the variables so a weak password stops start-up before listeners open.
pub fn plan(config: &AuthConfig, generate_if_unset: bool) -> Result<Plan, BootstrapError> {
    match (
        config.bootstrap_admin_email.as_deref(),
        config.bootstrap_admin_password.as_deref(),
    ) {
        (Some(e), Some(p)) => {
            let email = Email::parse(e)?;
            check_password_policy(p)?;
            Ok(Plan::Given(email, p.to_owned()))
        }
        (None, None) if generate_if_unset => Ok(Plan::Generate),
        (None, None) => Ok(Plan::Skip),
        _ => Err(BootstrapError::Incomplete),
    }
}

/// Creates the owner if no user exists yet.
pub async fn run(
    store: &Store,
    plan: Plan,
    params: password::HashParams,
) -> Result<(), BootstrapError> {
    let (email, pw, generated) = match plan {
        Plan::Skip => return Ok(()),
        Plan::Given(e, p) => (e, p, false),
        Plan::Generate => (
            Email::parse("admin@localhost")?,
            tokens::random_password(),
            true,
        ),
    };
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let hash = password::hash(params, pw.clone()).await?;
    let user = NewUser {
        email: email.clone(),
        display_name: "Owner".into(),
        role: Role::Owner,
        provider: IdentityProvider::Local,
        password_hash: Some(hash),
        external_id: None,
    };
    let Some(created) = store.create_first_user(&user).await? else {
        return Ok(());
    };
    if generated {
        // Printed on stdout only, never through tracing, so the password reaches no log file.
        println!("Bootstrap owner created: {email}");
        println!("  password:  {pw}");
        println!(
            "  (shown once; sign in and change it, or set SENTARI_BOOTSTRAP_ADMIN_* before the first start)"
        );
    }
    tracing::info!(target: SECURITY, event = "bootstrap", "Bootstrap owner created: {email}");
    let _ = audit::record(
        store,
        "system",
        None,
        "user.bootstrap",
        Some(created.email.clone()),
        None,
        Some(serde_json::json!({"role": "owner", "identity_provider": "local"})),
    )
    .await;
    Ok(())
}
