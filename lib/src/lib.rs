//! shardkit: split a test suite across CI nodes, run each node's share, merge the reports.
//!
//! This crate holds every decision; the `shard-*` binaries only parse arguments, call it and
//! talk to people. It never prints and never exits.

pub mod ci;
pub mod error;
pub mod exec;
pub mod ids;
pub mod junit;
pub mod manifest;
pub mod merge;
pub mod output;
pub mod plan;
pub mod presets;
pub mod ring;
pub mod summary;
pub mod timings;
pub mod verify;

pub use error::{Error, Location, Result};
pub use ids::{GroupBy, Grouping, TestIds};
pub use manifest::Manifest;
pub use plan::{Entry, NodeLoad, Plan, PlanParams};
pub use ring::LoadFactor;
