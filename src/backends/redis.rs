//! Temporary placeholder while the backend is written (same session).

use std::sync::Arc;

use crate::format::TypeRegistry;

use super::{BackendError, ErrorKind, StateBackend};

/// Placeholder.
pub struct RedisBackend;

impl RedisBackend {
    /// Placeholder.
    pub async fn open(url: &str, _registry: Arc<TypeRegistry>) -> Result<Box<dyn StateBackend>, BackendError> {
        Err(BackendError::new(ErrorKind::Connection, format!("{url}: not built yet")))
    }
}
