//! Wire types of Sentari.
//!
//! Every serializable type that crosses a process boundary lives here (ARCHITECTURE.md §3,
//! invariant 2): the agent protocol v1, REST bodies and the error body. Internal types convert
//! into and out of these, so the wire format changes only when this crate does.

pub mod agent;
pub mod auth;
pub mod error;
pub mod fleet;
pub mod health;
pub mod oidc;
