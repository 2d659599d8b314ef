//! The conformance suite: one suite that judges any [`StateBackend`](crate::backends::StateBackend),
//! running only the checks its declared capabilities allow (as OpenDAL's
//! behavior tests do), with verdicts a person can read.
//!
//! ```no_run
//! use std::sync::Arc;
//! use stateharness::conformance::{Suite, SuiteOptions, UrlOpener};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let options = SuiteOptions::default();
//! let opener = Arc::new(UrlOpener::new("memory://"));
//! let report = Suite::open(opener, options).await?.run().await;
//! println!("{}", report.human());
//! assert!(report.passed());
//! # Ok(())
//! # }
//! ```

//!
//! Modules depend one way only: `state`, `fidelity`, `select`, `tracker`
//! and `opener` are leaves, `judging` and `failure` build on `fidelity`;
//! `cases` builds on those, `properties` on `cases`, `checks` on both;
//! `options` and `report` sit above them, `html` above `report`; `suite`
//! (the table of checks and the run) is the top, and this module only
//! declares and re-exports.

pub(crate) mod cases;
pub(crate) mod checks;
pub(crate) mod failure;
pub(crate) mod fidelity;
mod html;
pub(crate) mod judging;
pub(crate) mod opener;
pub(crate) mod options;
pub(crate) mod properties;
pub(crate) mod report;
pub(crate) mod select;
pub(crate) mod state;
pub(crate) mod suite;
pub(crate) mod tracker;

pub use cases::SuiteFile;
pub use failure::Failure;
pub use fidelity::{Causes, Matrix, Profile, Verdict};
pub use opener::{FnOpener, Opener, UrlOpener};
pub use options::{SEED_VARIABLE, SuiteOptions};
pub use properties::CustomType;
pub use report::{CheckResult, Report, Status};
pub use suite::Suite;
