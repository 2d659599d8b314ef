//! The integration tests, one binary (as OpenDAL's behavior tests are), so
//! that a change links once. One module per area; `common` holds what they
//! share: scratch directories, the real servers, the built binary.

mod common;

mod backends;
mod cli;
mod conformance_backends;
mod conformance_faults;
mod conformance_select;
mod conformance_teeth;
mod exec_protocol;
mod faults;
mod file_text_snapshots;
mod flujo06;
mod flujo_backends;
mod interop;
mod legacy_dumps;
mod library;
mod limits;
mod lone_surrogates;
mod migrate;
mod py_backends;
mod python_version;
mod report_html;
mod report_snapshots;
mod secrets;
mod serde_types;
mod serve;
mod snapshot;
mod upgrade;
