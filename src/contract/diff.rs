//! `contractgate diff`: what a change to the contracts does to what was
//! already published, the pull-request gate. A published version is
//! immutable and stays: editing one in place, removing one (or a whole
//! contract) or loosening a contract's compatibility mode is refused. New
//! versions are judged under their mode by loading the new contracts
//! (`history`), which the caller does before comparing.

use super::compat::Mode;
use super::Registry;

/// What the change does, in lines for people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What breaks a published contract: each one fails the gate.
    pub refused: Vec<String>,
    /// Contracts and versions the change adds.
    pub added: Vec<String>,
}

/// Compares the contracts at the base with the new ones.
pub fn compare(base: &Registry, head: &Registry) -> Verdict {
    let mut verdict = Verdict::default();
    for old in base.contracts() {
        let Some(new) = head.get(old.name.as_str()) else {
            verdict.refused.push(format!(
                "contract `{}` was removed; a published contract stays (retire its versions instead)",
                old.name
            ));
            continue;
        };
        if !at_least_as_strict(new.compatibility, old.compatibility) {
            verdict.refused.push(format!(
                "contract `{}`: compatibility loosened from {} to {}; new versions would escape the published rule",
                old.name,
                old.compatibility.name(),
                new.compatibility.name()
            ));
        }
        for version in old.versions() {
            match new.version(version.version) {
                None => verdict.refused.push(format!(
                    "contract `{}` {} was removed; a published version stays (set its status to retired instead)",
                    old.name, version.version
                )),
                Some(now) if now.schema_hash != version.schema_hash => {
                    verdict.refused.push(format!(
                        "contract `{}` {} was edited in place: its schema was {} and is now {}; publish the change as a new version",
                        old.name, version.version, version.schema_hash, now.schema_hash
                    ));
                }
                Some(_) => {}
            }
        }
        let published = old.versions().len();
        for version in new.versions().iter().skip(published) {
            verdict
                .added
                .push(format!("contract `{}` {}", new.name, version.version));
        }
    }
    for new in head.contracts() {
        if base.get(new.name.as_str()).is_none() {
            verdict.added.push(format!(
                "contract `{}` with {} version(s)",
                new.name,
                new.versions().len()
            ));
        }
    }
    verdict
}

/// Whether `new` checks every direction and every earlier version `old`
/// checked.
fn at_least_as_strict(new: Mode, old: Mode) -> bool {
    old.directions()
        .iter()
        .all(|d| new.directions().contains(d))
        && (new.is_transitive() || !old.is_transitive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_may_tighten_but_not_loosen() {
        assert!(at_least_as_strict(Mode::Full, Mode::Backward));
        assert!(at_least_as_strict(Mode::BackwardTransitive, Mode::Backward));
        assert!(at_least_as_strict(Mode::Backward, Mode::None));
        assert!(!at_least_as_strict(Mode::None, Mode::Backward));
        assert!(!at_least_as_strict(
            Mode::Backward,
            Mode::BackwardTransitive
        ));
        assert!(!at_least_as_strict(Mode::Forward, Mode::Full));
    }
}
