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

pub mod cases;
pub mod checks;
pub mod failure;
pub mod fidelity;
mod html;
pub mod judging;
pub mod opener;
pub mod options;
pub mod properties;
pub mod report;
pub mod select;
pub mod state;
pub mod suite;
pub mod tracker;

pub use cases::SuiteFile;
pub use failure::Failure;
pub use fidelity::{Matrix, Profile, Verdict};
pub use judging::Judging;
pub use opener::{Opener, UrlOpener};
pub use options::SuiteOptions;
pub use properties::CustomType;
pub use report::{CheckResult, Report, Status};
pub use suite::Suite;
