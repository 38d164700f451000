//! The Sentari agent as a library: host inventory, output formats and `agent.conf`.
//!
//! The binary (`main.rs`) only parses the command line and picks a mode; everything it does is
//! here so that the daemon loop, the uploader and the tests call the same code. A future
//! uploader produces its `ScanUpload` with [`inventory::scan`] exactly as `--scan` does.

pub mod config;
pub mod daemon;
pub mod enroll;
mod files;
pub mod inventory;
pub mod output;
pub mod spool;
pub mod uploader;

pub use inventory::{AGENT_VERSION, ScanOptions, scan};
