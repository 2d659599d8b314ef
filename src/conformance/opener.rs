//! How the suite reaches a backend: opened once, and again for the
//! persistence and crash checks.

use std::sync::Arc;

use async_trait::async_trait;

use crate::backends::{BackendError, OpenOptions, StateBackend, open_backend_with};
use crate::format::TypeRegistry;

/// How the suite gets (and, for the persistence check, re-gets) a backend.
#[async_trait]
pub trait Opener: Send + Sync {
    /// What is being tested, for the report.
    fn describe(&self) -> String;

    /// A new handle on the backend's storage, serializing with `registry`:
    /// the suite's own (its custom types, the Python it models), handed
    /// over on every open so that the backend and the verdicts cannot
    /// model different registries.
    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError>;
}

/// An opener from a function, for a backend that opens in-process without
/// waiting: `open` makes a new handle on the *same* storage with the
/// registry it is given (the crate's front page shows one).
pub struct FnOpener<F> {
    describe: String,
    open: F,
}

impl<F> FnOpener<F>
where
    F: Fn(Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> + Send + Sync,
{
    /// An opener called `describe` in reports that opens with `open`.
    pub fn new(describe: impl Into<String>, open: F) -> FnOpener<F> {
        FnOpener { describe: describe.into(), open }
    }
}

#[async_trait]
impl<F> Opener for FnOpener<F>
where
    F: Fn(Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> + Send + Sync,
{
    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> {
        (self.open)(registry)
    }
}

/// Opens a built-in backend by URL. An `exec:` or `py:` backend whose
/// process announces `fork` is reopened by forking (`docs/protocol.md`).
pub struct UrlOpener {
    url: String,
    options: OpenOptions,
    #[cfg(feature = "exec")]
    launcher: Option<crate::backends::exec::Launcher>,
}

impl UrlOpener {
    /// An opener for `url` (see [`crate::backends`]).
    pub fn new(url: &str) -> UrlOpener {
        UrlOpener {
            url: url.to_owned(),
            options: OpenOptions::default(),
            #[cfg(feature = "exec")]
            launcher: crate::backends::exec::Launcher::for_url(url),
        }
    }

    /// The same, opening with `options` (the operation deadline).
    pub fn with_options(mut self, options: OpenOptions) -> UrlOpener {
        self.options = options;
        self
    }
}

#[async_trait]
impl Opener for UrlOpener {
    fn describe(&self) -> String {
        crate::redact::redact(&self.url).into_owned()
    }

    async fn open(&self, registry: Arc<TypeRegistry>) -> Result<Arc<dyn StateBackend>, BackendError> {
        #[cfg(feature = "exec")]
        if let Some(launcher) = &self.launcher {
            return Ok(Arc::new(launcher.open(registry, self.options.into()).await?));
        }
        open_backend_with(&self.url, registry, self.options).await.map(Arc::from)
    }
}
