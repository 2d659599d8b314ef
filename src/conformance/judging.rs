//! What the suite judges by, shared by every kind of check (declarative
//! cases, properties, the capability-gated checks).

use crate::format::TypeRegistry;

use super::fidelity::Profile;

/// What the suite's judge needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Judging<'a> {
    /// Types and their (de)serializers.
    pub registry: &'a TypeRegistry,
    /// Which verdicts pass.
    pub profile: Profile,
    /// Extra keys fail instead of warn.
    pub strict: bool,
}

/// One warning per added key, however many loads showed it.
pub(crate) fn extra_keys_warnings(keys: &[String]) -> impl Iterator<Item = String> + '_ {
    keys.iter().map(|key| format!("the backend adds the key {key:?} to states it loads (--strict makes this a failure)"))
}
