//! What a suite run runs and how it judges.

use std::sync::Arc;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::format::{FlujoVersion, PythonVersion, TypeRegistry, custom_value};

use super::cases::{self, SuiteFile};
use super::fidelity::Profile;
use super::properties::{self, CustomType};

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
    /// `--flujo`: the flujo to target; `None` takes the backend's (its
    /// `hello`) or 0.4.
    pub flujo: Option<FlujoVersion>,
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
    /// The flujo profile, 48 cases a property, a random seed (or
    /// `STATEHARNESS_SEED`, to replay a library run), the suites in
    /// `suites/` (built into the binary), the standard types and `Money`.
    fn default() -> SuiteOptions {
        let registry = Arc::new(TypeRegistry::standard());
        let suites = cases::EMBEDDED_SUITES.iter().filter_map(|(name, text)| cases::parse_suite(name, text, &registry).ok()).collect();
        SuiteOptions {
            profile: Profile::Flujo,
            strict: false,
            cases: 48,
            seed: std::env::var(SEED_VARIABLE).ok().and_then(|seed| seed.trim().parse().ok()).unwrap_or_else(random_seed),
            suites,
            custom_types: vec![properties::money_type()],
            registry,
            concurrency_rounds: 4,
            many_ids: 64,
            crash_rounds: 24,
            flujo: None,
            python: None,
            suites_dir: None,
            only: Vec::new(),
            skip: Vec::new(),
            fail_fast: false,
        }
    }
}

/// The variable that fixes the seed of [`SuiteOptions::default`], so that a
/// failing run of the suite in a Rust test replays without a code change.
pub const SEED_VARIABLE: &str = "STATEHARNESS_SEED";

/// Values of a serde type's strategy serialized when it is registered.
const REGISTRATION_SAMPLES: usize = 16;

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish() % 1_000_000_000
}

impl SuiteOptions {
    /// Registers the Rust serde type `T` as the custom type `name` and
    /// mixes values from `strategy` into the generated states.
    ///
    /// A custom type travels as its fields, so `T` must serialize to a map
    /// (a struct or a map). Sample values of `strategy` (fixed seed) are
    /// serialized here, so a type that cannot be carried (a newtype over a
    /// string, an enum of unit variants) is an error naming the type, not a
    /// property check that fails on the backend.
    pub fn with_serde_type<T>(mut self, name: &str, strategy: impl Strategy<Value = T> + Send + Sync + 'static) -> Result<SuiteOptions, String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + 'static,
    {
        let mut runner = TestRunner::deterministic();
        for _ in 0..REGISTRATION_SAMPLES {
            let sample = strategy.new_tree(&mut runner).map_err(|e| format!("custom type `{name}`: its strategy made no value: {e}"))?.current();
            custom_value(name, &sample).map_err(|e| format!("{e} (sample value {sample:?})"))?;
        }
        Arc::make_mut(&mut self.registry).register_serde::<T>(name);
        let type_name = name.to_owned();
        // The samples serialized to maps; a rare value that does not is skipped.
        let values = strategy.prop_filter_map("serializes to a map", move |value| custom_value(&type_name, &value).ok());
        self.custom_types.push(CustomType { name: name.to_owned(), strategy: values.sboxed() });
        Ok(self)
    }

    /// Adds a custom type a backend announced (with sample values), unless
    /// the suite already has it. Its `$custom` fields are what its
    /// serializer returns, so the registry serializes it as those fields.
    pub(crate) fn adopt_announced_type(&mut self, name: String, samples: Vec<crate::value::Value>) {
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
