//! Which checks a run runs: `--only` / `--skip` globs over `group: name`
//! and `--fail-fast`. A check left out is reported as skipped, with why.

use glob::Pattern;

/// Why a check that `--only`/`--skip` leaves out was not run.
pub const NOT_SELECTED: &str = "not selected (--only/--skip)";
/// Why the checks after a failure were not run under `--fail-fast`.
pub const AFTER_FAILURE: &str = "after the first failure (--fail-fast)";

/// The compiled `--only` / `--skip` patterns and `--fail-fast`.
#[derive(Debug, Default)]
pub struct Selection {
    only: Vec<Pattern>,
    skip: Vec<Pattern>,
    fail_fast: bool,
}

impl Selection {
    /// Compiles the patterns; an invalid one is named with its flag.
    pub fn new(only: &[String], skip: &[String], fail_fast: bool) -> Result<Selection, String> {
        let compile = |flag: &str, patterns: &[String]| {
            patterns.iter().map(|p| Pattern::new(p).map_err(|e| format!("{flag} {p:?}: not a glob pattern: {e}"))).collect::<Result<Vec<_>, _>>()
        };
        Ok(Selection { only: compile("--only", only)?, skip: compile("--skip", skip)?, fail_fast })
    }

    /// Whether the check labelled `group: name` is selected: it matches an
    /// `--only` pattern (or there are none) and no `--skip` pattern. `*`
    /// also matches `/` (case labels can hold a file's path).
    pub fn selects(&self, label: &str) -> bool {
        let matches = |p: &Pattern| p.matches(label);
        (self.only.is_empty() || self.only.iter().any(matches)) && !self.skip.iter().any(matches)
    }

    /// Why the check `label` is not run, when it is not; `failed` tells
    /// whether a check has failed already.
    pub fn excludes(&self, label: &str, failed: bool) -> Option<&'static str> {
        if !self.selects(label) {
            Some(NOT_SELECTED)
        } else if self.fail_fast && failed {
            Some(AFTER_FAILURE)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(only: &[&str], skip: &[&str]) -> Selection {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Selection::new(&strings(only), &strings(skip), false).unwrap()
    }

    #[test]
    fn only_and_skip_are_globs_over_the_label() {
        let s = selection(&["case: *", "list: *"], &["case: *unicode*"]);
        assert!(s.selects("case: suites/basic.json5: run_ids: empty"));
        assert!(s.selects("list: listing agrees with what is stored"));
        assert!(!s.selects("case: suites/unicode.json5: keys"));
        assert!(!s.selects("property: arbitrary WorkflowStates survive save then load"));
        assert!(selection(&[], &[]).selects("crash: anything"));
    }

    #[test]
    fn a_bad_pattern_is_named_with_its_flag() {
        let error = Selection::new(&[], &["[oops".to_owned()], false).unwrap_err();
        assert!(error.starts_with("--skip \"[oops\""), "{error}");
    }

    #[test]
    fn fail_fast_excludes_only_after_a_failure() {
        let s = Selection::new(&[], &[], true).unwrap();
        assert_eq!(s.excludes("case: a", false), None);
        assert_eq!(s.excludes("case: a", true), Some(AFTER_FAILURE));
        assert_eq!(selection(&["x"], &[]).excludes("case: a", true), Some(NOT_SELECTED));
    }

    /// `--list-checks` prints `Suite::check_names`: each of them, as an
    /// `--only` pattern, selects exactly that check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_check_name_as_only_selects_exactly_that_check() {
        let opener = std::sync::Arc::new(crate::conformance::UrlOpener::new("memory://"));
        let names = crate::conformance::Suite::open(opener, Default::default()).await.unwrap().check_names();
        assert!(names.iter().any(|n| n.starts_with("case: ")) && names.iter().any(|n| n.starts_with("list: ")), "{names:?}");
        for name in &names {
            let only = Selection::new(std::slice::from_ref(name), &[], false).unwrap();
            let picked: Vec<_> = names.iter().filter(|other| only.selects(other)).collect();
            assert_eq!(picked, [name], "--only {name:?} selects exactly that check");
        }
    }
}
