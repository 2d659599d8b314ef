//! A suite run: the table of checks (each one declared with its group,
//! name, what it needs and how it runs, in the spirit of OpenDAL's
//! capability-gated trial lists) and the loop that runs them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use proptest::strategy::Strategy;

use crate::backends::BackendError;
use crate::error::ErrorKind;
use crate::format::{FlujoChoice, FlujoVersion, PythonChoice, TypeRegistry};

use super::cases;
use super::checks::{self, CheckRun};
use super::judging::Judging;
use super::opener::Opener;
use super::options::SuiteOptions;
use super::properties;
use super::report::{CheckResult, Report, Status};
use super::select::Selection;
use super::tracker::{self, Tracked};

/// Models `flujo` and `python` in the run's registry.
fn set_target(registry: &mut Arc<TypeRegistry>, flujo: &FlujoChoice, python: &PythonChoice) {
    let registry = Arc::make_mut(registry);
    registry.set_flujo(flujo.version);
    registry.set_python(python.version);
}

/// A suite run against one backend.
pub struct Suite {
    opener: Arc<dyn Opener>,
    options: SuiteOptions,
    tracked: Arc<Tracked>,
    flujo: FlujoChoice,
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
        let unusable = |why: String| BackendError::new(ErrorKind::Connection, format!("{}: {why}", opener.describe()));
        // A built-in backend stores as the run's flujo and Python model it:
        // the flags' or the defaults, set before it is opened. A Python
        // backend reports its own, which then decide the verdicts.
        let mut flujo = FlujoChoice::resolve(options.flujo, None).map_err(unusable)?;
        let mut python = PythonChoice::resolve_for(flujo.version, options.python, None).map_err(unusable)?;
        set_target(&mut options.registry, &flujo, &python);
        let backend = opener.open(options.registry.clone()).await?;
        if let Some(runtime) = backend.runtime() {
            flujo = FlujoChoice::resolve(options.flujo, runtime.flujo.as_deref()).map_err(unusable)?;
            flujo.hash_seed = runtime.hash_seed.clone();
            python = PythonChoice::resolve_for(flujo.version, options.python, Some(runtime.python_and_unicode())).map_err(unusable)?;
            set_target(&mut options.registry, &flujo, &python);
        }
        let prefix = tracker::fresh_prefix();
        match backend.load_state(&format!("{prefix}probe"), &crate::format::TypeHints::new()).await {
            Err(e) if e.kind.is_fault() => return Err(BackendError::new(e.kind, format!("{} cannot be reached: {}", opener.describe(), e.message))),
            _ => {}
        }
        for (name, samples) in backend.announced_custom_types() {
            options.adopt_announced_type(name, samples);
        }
        let tracked = Arc::new(Tracked::new(backend, prefix, options.registry.flujo()));
        Ok(Suite { opener, options, tracked, flujo, python, selection })
    }

    /// The etiquette wrapper, so that a Ctrl-C handler can clean up.
    #[cfg(feature = "cli")]
    pub(crate) fn tracker(&self) -> Arc<Tracked> {
        self.tracked.clone()
    }

    /// `group: name` of every check, in the order run (also those that
    /// the backend's capabilities or the selection leave out).
    pub fn check_names(&self) -> Vec<String> {
        plan(&self.options).iter().map(Check::label).collect()
    }

    /// Runs every selected check the backend's capabilities allow, then
    /// deletes everything the run wrote.
    pub async fn run(self) -> Report {
        let started = Instant::now();
        let options = &self.options;
        let mut report = Report::new(self.opener.describe(), self.tracked.capabilities(), options, self.tracked.prefix());
        report.flujo = self.flujo.clone();
        report.python = self.python.clone();

        for check in plan(options) {
            let failed = report.checks.iter().any(|c| c.status == Status::Failed);
            let excluded = self.selection.excludes(&check.label(), failed).map(str::to_owned);
            match excluded.or_else(|| self.unavailable(check.needs)) {
                Some(why) => self.push(&mut report, CheckResult::skipped(check.group, check.name, why)),
                None => {
                    self.revive(&mut report).await;
                    let result = (check.run)(&self, &mut report, check.group, check.name).await;
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

    /// Why the backend cannot take a check that `needs` these: the first
    /// need it does not meet.
    fn unavailable(&self, needs: &[Need]) -> Option<String> {
        let declared = self.tracked.capabilities().names();
        needs.iter().find_map(|need| match *need {
            Need::Capability(name) => (!declared.contains(&name)).then(|| format!("the backend does not declare `{name}`")),
            Need::CrashRounds => (self.options.crash_rounds == 0).then(|| "--crash-rounds 0".to_owned()),
            Need::Process => (!self.tracked.backend().has_process()).then(|| "the backend is not a process (use exec:)".to_owned()),
            Need::StorageRoot => checks::storage_root(&*self.tracked.backend())
                .is_none()
                .then(|| "the suite cannot see the backend's storage directory (file://, or `storage_root` in an exec: backend's hello)".to_owned()),
            Need::ListsByPrefix => (!self.tracked.backend().lists_by_prefix())
                .then(|| "the backend does not declare `list_prefix`: the harness filters its listing, so its own filtering cannot be judged".to_owned()),
            Need::Flujo04 => (self.options.registry.flujo() != FlujoVersion::V0_4)
                .then(|| "flujo 0.6 stores these as text: the cases and the property checks judge them".to_owned()),
        })
    }

    /// How the checks judge.
    fn judging(&self) -> Judging<'_> {
        Judging { registry: &self.options.registry, profile: self.options.profile, strict: self.options.strict }
    }

    /// The result of a capability-gated check: its verdicts go into `report`.
    fn gated(report: &mut Report, (group, name): (&str, String), run: CheckRun, timer: Instant, cases: u64) -> CheckResult {
        report.matrix.merge(&run.matrix);
        run.into_check(group, name, timer, cases)
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
        match self.tracked.watch(self.opener.open(self.options.registry.clone()).await) {
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

/// A check's future, borrowing the suite and the report.
type Running<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// How a check runs: on the suite, into the report (for its verdicts and
/// warnings), under its group and name.
type Run = Box<dyn for<'a> Fn(&'a Suite, &'a mut Report, &'static str, String) -> Running<'a> + Send + Sync>;

/// What a check needs that a backend or the options may not give; a check
/// whose need is not met is reported as skipped, with why.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// A declared capability (`concurrent`, `persistent`, `list`, `shared`).
    Capability(&'static str),
    /// Crash rounds: `--crash-rounds 0` leaves the crash check out.
    CrashRounds,
    /// A backend process to kill.
    Process,
    /// A storage directory the suite can see (`file://`, or an `exec:`
    /// backend's `storage_root`).
    StorageRoot,
    /// `list_states` answers the backend's own filtering by prefix (an
    /// `exec:` backend without capability `list_prefix` is filtered by the
    /// harness, and a check of its filtering could never fail).
    ListsByPrefix,
    /// Targeting flujo 0.4 (0.6 stores as text what 0.4 refuses).
    Flujo04,
}

/// One check of the suite, declared.
struct Check {
    group: &'static str,
    name: String,
    needs: &'static [Need],
    run: Run,
}

impl Check {
    fn new<F>(group: &'static str, name: impl Into<String>, needs: &'static [Need], run: F) -> Check
    where
        F: for<'a> Fn(&'a Suite, &'a mut Report, &'static str, String) -> Running<'a> + Send + Sync + 'static,
    {
        Check { group, name: name.into(), needs, run: Box::new(run) }
    }

    fn label(&self) -> String {
        format!("{}: {}", self.group, self.name)
    }
}

const CONCURRENT: &[Need] = &[Need::Capability("concurrent")];
const PERSISTENT: &[Need] = &[Need::Capability("persistent")];
const LIST: &[Need] = &[Need::Capability("list")];
const SHARED: &[Need] = &[Need::Capability("shared")];
const LIST_PREFIX: &[Need] = &[Need::Capability("list"), Need::ListsByPrefix];
const STORAGE_ROOT: &[Need] = &[Need::StorageRoot];
const CRASH: &[Need] = &[Need::CrashRounds, Need::Capability("persistent"), Need::Process];

/// Every check, in the order run: the declarative cases, the properties,
/// one check per custom type, then the capability-gated checks.
fn plan(options: &SuiteOptions) -> Vec<Check> {
    let mut plan = Vec::new();
    for (s, file) in options.suites.iter().enumerate() {
        for (c, case) in file.cases.iter().enumerate() {
            plan.push(Check::new("case", format!("{}: {}", file.name, case.name), &[], move |suite, report, group, name| {
                Box::pin(async move {
                    let timer = Instant::now();
                    let case = &suite.options.suites[s].cases[c];
                    let run = cases::run_case(case, &format!("s{s}c{c}-"), &suite.tracked, suite.judging()).await;
                    report.matrix.merge(&run.matrix);
                    report.add_warnings(run.warnings);
                    CheckResult::from_failures(group, name, run.failures, timer, 1).with_causes(run.causes)
                })
            }));
        }
    }
    let (cases, seed) = (options.cases, options.seed);
    plan.push(Check::new("property", "arbitrary WorkflowStates survive save then load", &[], move |suite, report, group, name| {
        let custom: Vec<_> = suite.options.custom_types.iter().map(|c| c.strategy.clone()).collect();
        Box::pin(suite.property((group, name), report, move |backend, judging| {
            properties::round_trip(backend, judging, custom.into_iter().map(|s| s.boxed()).collect(), cases, seed)
        }))
    }));
    plan.push(Check::new("property", "random save/load/delete sequences agree with a model", &[], move |suite, report, group, name| {
        Box::pin(suite.property((group, name), report, move |backend, judging| properties::model_based(backend, judging, cases, seed.wrapping_add(1))))
    }));
    for (i, custom) in options.custom_types.iter().enumerate() {
        let name = format!("{} comes back equal when loaded with its target type", custom.name);
        plan.push(Check::new("custom type", name, &[], move |suite, report, group, name| {
            let custom_type = suite.options.custom_types[i].clone();
            let seed = seed.wrapping_add(2 + i as u64);
            Box::pin(
                suite.property((group, name), report, move |backend, judging| properties::custom_type(backend, judging, &custom_type, cases.div_ceil(2), seed)),
            )
        }));
    }
    plan.push(Check::new(
        "refusals",
        "values flujo refuses (UUID, Decimal, bytearray) are refused as unsupported",
        &[Need::Flujo04],
        |suite, report, group, name| {
            Box::pin(async move {
                let timer = Instant::now();
                let run = checks::refusals(&suite.tracked, suite.judging()).await;
                Suite::gated(report, (group, name), run, timer, 3)
            })
        },
    ));
    plan.push(Check::new("concurrency", "concurrent saves and loads of one id never mix states", CONCURRENT, |suite, report, group, name| {
        Box::pin(async move {
            let (timer, rounds) = (Instant::now(), suite.options.concurrency_rounds);
            let run = checks::concurrent_one_id(&suite.tracked, suite.judging(), rounds).await;
            Suite::gated(report, (group, name), run, timer, rounds as u64)
        })
    }));
    plan.push(Check::new("concurrency", format!("concurrent work on {} ids loses nothing", options.many_ids), CONCURRENT, |suite, report, group, name| {
        Box::pin(async move {
            let (timer, ids) = (Instant::now(), suite.options.many_ids);
            let run = checks::concurrent_many_ids(&suite.tracked, suite.judging(), ids).await;
            Suite::gated(report, (group, name), run, timer, ids as u64)
        })
    }));
    plan.push(Check::new("concurrency", "two handles on one storage never see a torn or mixed state", SHARED, |suite, report, group, name| {
        Box::pin(async move {
            let (timer, rounds) = (Instant::now(), suite.options.concurrency_rounds);
            let second = suite.opener.open(suite.options.registry.clone()).await;
            let run = checks::shared_one_id(&suite.tracked, second, suite.judging(), rounds).await;
            Suite::gated(report, (group, name), run, timer, rounds as u64)
        })
    }));
    plan.push(Check::new("persistence", "data survives closing and reopening the backend", PERSISTENT, |suite, report, group, name| {
        Box::pin(async move {
            let timer = Instant::now();
            let run = checks::persistence(&suite.tracked, suite.judging(), suite.opener.open(suite.options.registry.clone())).await;
            Suite::gated(report, (group, name), run, timer, 3)
        })
    }));
    let crash = format!("SIGKILL during saves of 4 KB to 4 MB leaves the old or the new state ({} rounds)", options.crash_rounds);
    plan.push(Check::new("crash", crash, CRASH, |suite, report, group, name| {
        Box::pin(async move {
            let (timer, rounds) = (Instant::now(), suite.options.crash_rounds);
            let run =
                checks::crash_atomicity(&suite.tracked, suite.judging(), (&*suite.opener, suite.options.registry.clone()), rounds, suite.options.seed).await;
            Suite::gated(report, (group, name), run, timer, rounds as u64)
        })
    }));
    plan.push(Check::new("list", "listing agrees with what is stored", LIST, |suite, report, group, name| {
        Box::pin(async move {
            let timer = Instant::now();
            Suite::gated(report, (group, name), checks::listing(&suite.tracked).await, timer, 1)
        })
    }));
    plan.push(Check::new(
        "list",
        "a prefix is matched literally: `_` and `%` are no wildcards, multi-byte characters are whole",
        LIST_PREFIX,
        |suite, report, group, name| {
            Box::pin(async move {
                let timer = Instant::now();
                Suite::gated(report, (group, name), checks::listing_prefixes(&suite.tracked).await, timer, 8)
            })
        },
    ));
    plan.push(Check::new(
        "run ids",
        "ids starting with ../, / or ..\\ create no file outside the storage directory",
        STORAGE_ROOT,
        |suite, report, group, name| {
            Box::pin(async move {
                let timer = Instant::now();
                let run = match checks::storage_root(&*suite.tracked.backend()) {
                    Some(root) => checks::path_traversal(&suite.tracked, &root).await,
                    None => CheckRun::default(),
                };
                Suite::gated(report, (group, name), run, timer, 4)
            })
        },
    ));
    plan
}
