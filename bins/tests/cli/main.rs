//! Drives the real binaries: exit code, stdout and stderr together.
//!
//! One file (or folder) per binary: `plan` for shard-plan, `exec` for shard-exec (and `kill`
//! for shard-exec killed hard), `merge` for shard-merge. Beside them, tests that cross the
//! binaries: `collect`, `e2e` and `empty` run the whole pipeline, `seeds` the seed tool's
//! settings, `timings` weights from earlier reports, `recipes` the CI recipes, `docs` the
//! generated and written docs, `setup` the test command itself, `fuzz` the fuzz targets, `pages`
//! the run's page in a real browser.
//! `support` is the harness they all share; `suite` makes test ids, as the library's tests do.

#[allow(dead_code)]
#[path = "../../../lib/tests/support/suite.rs"]
mod suite;
mod support;

mod collect;
mod docs;
mod e2e;
mod empty;
mod exec;
mod fuzz;
mod kill;
mod merge;
mod pages;
mod plan;
mod recipes;
mod seeds;
mod setup;
mod timings;
