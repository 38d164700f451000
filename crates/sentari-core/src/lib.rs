//! Pure domain logic of Sentari.
//!
//! Everything in this crate is deterministic and free of I/O (ARCHITECTURE.md §3, invariant 1):
//! callers hand it bytes or strings they have read, and it hands back values. That keeps the
//! rules that decide whether a package is vulnerable testable in isolation and identical in the
//! server, the agent and the operator tools.

pub mod audit;
pub mod auth;
pub mod ecosystem;
pub mod eol;
pub mod license;
pub mod osv;
pub mod schedule;
pub mod version;
