//! stateharness: keeps flujo workflow state safe across storage backends
//! and format changes.
//!
//! - [`value`]: the dynamic state value, every Python kind a state holds.
//! - [`json`]: Python-compatible JSON text (exact `json.dumps` bytes; a
//!   reader for Python's grammar with a JSON5 fallback).
//! - [`error`]: how a backend operation fails (the protocol's error kinds).
//! - [`text`]: small helpers for what the tool prints.
//! - [`protocol`]: the JSON-lines protocol of external backends.
//! - [`typed`]: typed JSON, the lossless interchange form of a value.
//! - [`backends`]: the `StateBackend` contract and the built-in backends.
//! - [`conformance`]: the conformance suite that judges any backend.
//! - [`migration`]: legacy dumps and databases into the safe format, into
//!   any backend, verified and crash-safe.
//! - [`format`](mod@format): flujo's safe serialized format (serialize, deserialize,
//!   custom type registry).
//! - [`snapshot`]: snapshot regression review of stored state (record,
//!   check, review), and named snapshots for other callers.
//! - [`strategy`]: proptest strategies for values of every kind.
//! - [`vectors`]: checks the engine against flujo's reference vectors.

pub mod backends;
pub mod conformance;
pub mod error;
pub mod format;
pub mod json;
pub mod migration;
pub mod path;
pub mod protocol;
pub mod redact;
pub mod snapshot;
pub mod strategy;
pub mod text;
pub mod typed;
pub mod value;
pub mod vectors;

/// The attribute an implementation of [`backends::StateBackend`] needs
/// (`#[stateharness::async_trait]`), so that it takes no dependency of its own.
pub use async_trait::async_trait;
pub use backends::serve::serve_stdio;
pub use value::Value;
