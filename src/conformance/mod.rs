//! The conformance suite: one suite that judges any [`StateBackend`],
//! running only the checks its declared capabilities allow (as OpenDAL's
//! behavior tests do), with verdicts a person can read.
//!
//! ```no_run
//! use std::sync::Arc;
//! use stateharness::conformance::{Suite, SuiteOptions, UrlOpener};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let options = SuiteOptions::default();
//! let opener = Arc::new(UrlOpener::new("memory://", options.registry.clone()));
//! let report = Suite::open(opener, options).await?.run().await;
//! println!("{}", report.human());
//! assert!(report.passed());
//! # Ok(())
//! # }
//! ```

pub mod cases;
pub mod checks;
pub mod fidelity;
mod html;
pub mod properties;
pub mod report;
pub mod select;
pub mod state;
pub mod tracker;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use proptest::strategy::Strategy;

use crate::backends::{BackendError, OpenOptions, StateBackend, open_backend_with};
use crate::error::ErrorKind;
use crate::format::{PythonChoice, PythonVersion, TypeRegistry, custom_value};

pub use cases::{Judging, SuiteFile};
pub use fidelity::{Matrix, Profile, Verdict};
pub use properties::CustomType;
pub use report::{CheckResult, Report, Status};

use select::Selection;
use tracker::Tracked;

/// How the suite gets (and, for the persistence check, re-gets) a backend.
#[async_trait]
pub trait Opener: Send + Sync {
    /// What is being tested, for the report.
    fn describe(&self) -> String;

    /// A new handle on the backend's storage.
    async fn open(&self) -> Result<Arc<dyn StateBackend>, BackendError>;
}

/// Opens a built-in backend by URL.
pub struct UrlOpener {
    url: String,
    registry: Arc<TypeRegistry>,
    options: OpenOptions,
}

impl UrlOpener {
    /// An opener for `url` (see [`crate::backends`]).
    pub fn new(url: &str, registry: Arc<TypeRegistry>) -> UrlOpener {
        UrlOpener { url: url.to_owned(), registry, options: OpenOptions::default() }
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

    async fn open(&self) -> Result<Arc<dyn StateBackend>, BackendError> {
        open_backend_with(&self.url, self.registry.clone(), self.options).await.map(Arc::from)
    }
}

/// What the suite runs and how it judges.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// Which verdicts pass.
    pub profile: Profile,
    /// Extra keys added by the backend fail instead of warn.
    pub strict: bool,
    /// Cases per property check.
    pub cases: u32,
    /// Seed of the property checks (printed with every failure).
    pub seed: u64,
    /// Declarative case files.
    pub suites: Vec<SuiteFile>,
    /// Custom types mixed into states, one fidelity line each.
    pub custom_types: Vec<CustomType>,
    /// Types and their (de)serializers.
    pub registry: Arc<TypeRegistry>,
    /// Rounds of the one-id concurrency check.
    pub concurrency_rounds: usize,
    /// Ids in the many-ids concurrency check.
    pub many_ids: usize,
    /// Rounds of the crash-atomicity check (SIGKILL during a save); 0
    /// skips it.
    pub crash_rounds: usize,
    /// `--python-version`: the Python to model; `None` takes the backend's
    /// (its `hello`) or the default.
    pub python: Option<PythonVersion>,
    /// Where the declarative cases came from, when not the built-in ones
    /// (for the replay line).
    pub suites_dir: Option<std::path::PathBuf>,
    /// `--only`: globs over `group: name`; when any, only matching checks run.
    pub only: Vec<String>,
    /// `--skip`: globs over `group: name`; matching checks do not run.
    pub skip: Vec<String>,
    /// `--fail-fast`: after the first failed check the rest do not run.
    pub fail_fast: bool,
}

impl Default for SuiteOptions {
    /// The flujo profile, 48 cases a property, a random seed, the suites in
    /// `suites/` (built into the binary), the standard types and `Money`.
    fn default() -> SuiteOptions {
        let registry = Arc::new(TypeRegistry::standard());
        let suites = cases::EMBEDDED_SUITES.iter().filter_map(|(name, text)| cases::parse_suite(name, text, &registry).ok()).collect();
        SuiteOptions {
            profile: Profile::Flujo,
            strict: false,
            cases: 48,
            seed: random_seed(),
            suites,
            custom_types: vec![properties::money_type()],
            registry,
            concurrency_rounds: 4,
            many_ids: 64,
            crash_rounds: 24,
            python: None,
            suites_dir: None,
            only: Vec::new(),
            skip: Vec::new(),
            fail_fast: false,
        }
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish() % 1_000_000_000
}

impl SuiteOptions {
    /// Registers the Rust serde type `T` as the custom type `name` and
    /// mixes values from `strategy` into the generated states.
    pub fn with_serde_type<T>(mut self, name: &str, strategy: impl Strategy<Value = T> + Send + Sync + 'static) -> SuiteOptions
    where
        T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + 'static,
    {
        Arc::make_mut(&mut self.registry).register_serde::<T>(name);
        let type_name = name.to_owned();
        let values = strategy.prop_filter_map("serializes to a map", move |value| custom_value(&type_name, &value).ok());
        self.custom_types.push(CustomType { name: name.to_owned(), strategy: values.sboxed() });
        self
    }

    /// Adds a custom type a backend announced (with sample values), unless
    /// the suite already has it. Its `$custom` fields are what its
    /// serializer returns, so the registry serializes it as those fields.
    fn adopt_announced_type(&mut self, name: String, samples: Vec<crate::value::Value>) {
        if samples.is_empty() || self.custom_types.iter().any(|c| c.name == name) {
            return;
        }
        if !self.registry.custom_type_names().any(|n| n == name) {
            Arc::make_mut(&mut self.registry).register_fields_type(&name);
        }
        self.custom_types.push(CustomType { name, strategy: proptest::sample::select(samples).sboxed() });
    }

    /// Replaces the declarative cases with the `*.json5` files of `dir`.
    pub fn with_suites_from(mut self, dir: &std::path::Path) -> Result<SuiteOptions, String> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json5"))
            .collect();
        paths.sort();
        self.suites = paths
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                cases::parse_suite(&path.display().to_string(), &text, &self.registry).map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        self.suites_dir = Some(dir.to_owned());
        Ok(self)
    }
}

/// A suite run against one backend.
pub struct Suite {
    opener: Arc<dyn Opener>,
    options: SuiteOptions,
    tracked: Arc<Tracked>,
    python: PythonChoice,
    selection: Selection,
}

impl Suite {
    /// Opens the backend and sees that it answers (a load of an id that
    /// does not exist); an error here is a configuration or connection
    /// problem (exit status 2), not a failed check; so is an invalid
    /// `--only`/`--skip` pattern.
    pub async fn open(opener: Arc<dyn Opener>, mut options: SuiteOptions) -> Result<Suite, BackendError> {
        let selection = Selection::new(&options.only, &options.skip, options.fail_fast).map_err(|why| BackendError::new(ErrorKind::Internal, why))?;
        let backend = opener.open().await?;
        let python = PythonChoice::resolve(options.python, backend.runtime().map(|r| r.python_and_unicode()))
            .map_err(|why| BackendError::new(ErrorKind::Connection, format!("{}: {why}", opener.describe())))?;
        Arc::make_mut(&mut options.registry).set_python(python.version);
        let prefix = tracker::fresh_prefix();
        match backend.load_state(&format!("{prefix}probe"), &crate::format::TypeHints::new()).await {
            Err(e) if e.kind.is_fault() => return Err(BackendError::new(e.kind, format!("{} cannot be reached: {}", opener.describe(), e.message))),
            _ => {}
        }
        for (name, samples) in backend.announced_custom_types() {
            options.adopt_announced_type(name, samples);
        }
        let tracked = Arc::new(Tracked::new(backend, prefix));
        Ok(Suite { opener, options, tracked, python, selection })
    }

    /// The etiquette wrapper, so that a Ctrl-C handler can clean up.
    pub fn tracker(&self) -> Arc<Tracked> {
        self.tracked.clone()
    }

    /// `group: name` of every check, in the order run (also those that
    /// the backend's capabilities or the selection leave out).
    pub fn check_names(&self) -> Vec<String> {
        plan(&self.options).iter().map(|check| format!("{}: {}", check.group(), check.name(&self.options))).collect()
    }

    /// Runs every selected check the backend's capabilities allow, then
    /// deletes everything the run wrote.
    pub async fn run(self) -> Report {
        let started = Instant::now();
        let options = &self.options;
        let mut report = Report::new(self.opener.describe(), self.tracked.capabilities(), options, self.tracked.prefix());
        report.python = self.python.clone();

        for check in plan(options) {
            let (group, name) = (check.group(), check.name(options));
            let failed = report.checks.iter().any(|c| c.status == Status::Failed);
            let excluded = self.selection.excludes(&format!("{group}: {name}"), failed).map(str::to_owned);
            match excluded.or_else(|| self.unavailable(&check)) {
                Some(why) => self.push(&mut report, CheckResult::skipped(group, name, why)),
                None => {
                    self.revive(&mut report).await;
                    let result = self.run_check(&check, name, &mut report).await;
                    self.push(&mut report, result);
                }
            }
        }

        self.revive(&mut report).await;
        let (deleted, errors) = self.tracked.cleanup().await;
        report.cleanup_deleted = deleted;
        report.add_warnings(errors.into_iter().map(|e| format!("cleanup: {e}")));
        if let Err(e) = self.tracked.backend().close().await {
            report.add_warnings([format!("close: {e}")]);
        }
        report.ops = self.tracked.ops();
        report.seconds = started.elapsed().as_secs_f64();
        report
    }

    /// Why the backend cannot take `check`: a capability it does not
    /// declare, or what the crash check needs.
    fn unavailable(&self, check: &Check) -> Option<String> {
        let capabilities = self.tracked.capabilities();
        let gated = |declared: bool, capability: &str| (!declared).then(|| format!("the backend does not declare `{capability}`"));
        match check {
            Check::ConcurrentOneId | Check::ConcurrentManyIds => gated(capabilities.concurrent, "concurrent"),
            Check::Persistence => gated(capabilities.persistent, "persistent"),
            Check::Crash => (self.options.crash_rounds == 0)
                .then(|| "--crash-rounds 0".to_owned())
                .or_else(|| gated(capabilities.persistent, "persistent"))
                .or_else(|| (!self.tracked.backend().has_process()).then(|| "the backend is not a process (use exec:)".to_owned())),
            Check::List => gated(capabilities.list, "list"),
            _ => None,
        }
    }

    /// Runs one check; its verdicts and warnings go into `report`.
    async fn run_check(&self, check: &Check, name: String, report: &mut Report) -> CheckResult {
        let options = &self.options;
        let judging = Judging { registry: &options.registry, profile: options.profile, strict: options.strict };
        let (group, cases, seed) = (check.group(), options.cases, options.seed);
        let timer = Instant::now();
        match *check {
            Check::Case { suite, case } => {
                let namespace = format!("s{suite}c{case}-");
                let run = cases::run_case(&options.suites[suite].cases[case], &namespace, &self.tracked, judging).await;
                report.matrix.merge(&run.matrix);
                report.add_warnings(run.warnings);
                CheckResult::from_failures(group, name, run.failures, timer, 1).with_causes(run.causes)
            }
            Check::RoundTrip => {
                let custom: Vec<_> = options.custom_types.iter().map(|c| c.strategy.clone()).collect();
                self.property((group, name), report, move |backend, judging| {
                    properties::round_trip(backend, judging, custom.into_iter().map(|s| s.boxed()).collect(), cases, seed)
                })
                .await
            }
            Check::ModelBased => {
                self.property((group, name), report, move |backend, judging| properties::model_based(backend, judging, cases, seed.wrapping_add(1))).await
            }
            Check::CustomType(i) => {
                let custom_type = options.custom_types[i].clone();
                let seed = seed.wrapping_add(2 + i as u64);
                self.property((group, name), report, move |backend, judging| properties::custom_type(backend, judging, &custom_type, cases.div_ceil(2), seed))
                    .await
            }
            Check::Refusals => {
                let run = checks::refusals(&self.tracked, judging).await;
                report.matrix.merge(&run.matrix);
                run.into_check(group, name, timer, 3)
            }
            Check::ConcurrentOneId => {
                let run = checks::concurrent_one_id(&self.tracked, judging, options.concurrency_rounds).await;
                run.into_check(group, name, timer, options.concurrency_rounds as u64)
            }
            Check::ConcurrentManyIds => {
                let run = checks::concurrent_many_ids(&self.tracked, judging, options.many_ids).await;
                report.matrix.merge(&run.matrix);
                run.into_check(group, name, timer, options.many_ids as u64)
            }
            Check::Persistence => {
                let run = checks::persistence(&self.tracked, judging, self.opener.open()).await;
                report.matrix.merge(&run.matrix);
                run.into_check(group, name, timer, 3)
            }
            Check::Crash => {
                let run = checks::crash_atomicity(&self.tracked, judging, &*self.opener, options.crash_rounds, options.seed).await;
                run.into_check(group, name, timer, options.crash_rounds as u64)
            }
            Check::List => checks::listing(&self.tracked).await.into_check(group, name, timer, 1),
        }
    }

    /// Adds a check's result. A connection fault met during the check makes
    /// it a fault ("connection lost during ..."), not a verdict on the
    /// backend; the checks after a fault are reported as not run.
    fn push(&self, report: &mut Report, check: CheckResult) {
        let check = match (report.first_fault(), self.tracked.fault()) {
            (Some(during), _) => CheckResult::skipped(&check.group, check.name, format!("not run: the connection was lost during {during}")),
            (None, Some(fault)) => check.into_fault(fault.to_string()),
            (None, None) => check,
        };
        report.push(check);
    }

    /// Restarts a backend whose process died, so that one crash fails the
    /// check it happened in rather than every check after it.
    async fn revive(&self, report: &mut Report) {
        if self.tracked.backend().is_alive() {
            return;
        }
        let after = report.checks.last().map_or_else(|| "the first check".to_owned(), |c| format!("{}: {}", c.group, c.name));
        match self.tracked.watch(self.opener.open().await) {
            Ok(fresh) => {
                self.tracked.replace(fresh);
                report.add_warnings([format!("the backend's process died during {after}; it was restarted")]);
            }
            Err(e) => report.add_warnings([format!("the backend's process died during {after} and could not be restarted: {e}")]),
        }
    }

    /// Runs a property check on a blocking thread (proptest is synchronous).
    async fn property(
        &self,
        (group, name): (&str, String),
        report: &mut Report,
        work: impl FnOnce(&Tracked, Judging<'_>) -> properties::PropertyRun + Send + 'static,
    ) -> CheckResult {
        let (registry, profile, strict) = (self.options.registry.clone(), self.options.profile, self.options.strict);
        let timer = Instant::now();
        let run = properties::on_blocking_thread(self.tracked.clone(), move |backend| work(backend, Judging { registry: &registry, profile, strict })).await;
        report.property_check(group, name, run, timer, &format!("--seed {}", self.options.seed))
    }
}

/// One check of the suite.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// A declarative case: indexes into `SuiteOptions::suites`.
    Case {
        suite: usize,
        case: usize,
    },
    RoundTrip,
    ModelBased,
    /// A custom type: indexes into `SuiteOptions::custom_types`.
    CustomType(usize),
    Refusals,
    ConcurrentOneId,
    ConcurrentManyIds,
    Persistence,
    Crash,
    List,
}

impl Check {
    fn group(&self) -> &'static str {
        match self {
            Check::Case { .. } => "case",
            Check::RoundTrip | Check::ModelBased => "property",
            Check::CustomType(_) => "custom type",
            Check::Refusals => "refusals",
            Check::ConcurrentOneId | Check::ConcurrentManyIds => "concurrency",
            Check::Persistence => "persistence",
            Check::Crash => "crash",
            Check::List => "list",
        }
    }

    fn name(&self, options: &SuiteOptions) -> String {
        match *self {
            Check::Case { suite, case } => format!("{}: {}", options.suites[suite].name, options.suites[suite].cases[case].name),
            Check::RoundTrip => "arbitrary WorkflowStates survive save then load".to_owned(),
            Check::ModelBased => "random save/load/delete sequences agree with a model".to_owned(),
            Check::CustomType(i) => format!("{} comes back equal when loaded with its target type", options.custom_types[i].name),
            Check::Refusals => "values flujo refuses (UUID, Decimal, bytearray) are refused as unsupported".to_owned(),
            Check::ConcurrentOneId => "concurrent saves and loads of one id never mix states".to_owned(),
            Check::ConcurrentManyIds => format!("concurrent work on {} ids loses nothing", options.many_ids),
            Check::Persistence => "data survives closing and reopening the backend".to_owned(),
            Check::Crash => format!("SIGKILL during saves of 4 KB to 4 MB leaves the old or the new state ({} rounds)", options.crash_rounds),
            Check::List => "listing agrees with what is stored".to_owned(),
        }
    }
}

/// Every check, in the order run.
fn plan(options: &SuiteOptions) -> Vec<Check> {
    let cases = options.suites.iter().enumerate().flat_map(|(suite, file)| (0..file.cases.len()).map(move |case| Check::Case { suite, case }));
    let custom = (0..options.custom_types.len()).map(Check::CustomType);
    let rest = [Check::Refusals, Check::ConcurrentOneId, Check::ConcurrentManyIds, Check::Persistence, Check::Crash, Check::List];
    cases.chain([Check::RoundTrip, Check::ModelBased]).chain(custom).chain(rest).collect()
}
