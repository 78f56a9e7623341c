//! A contracts folder as it was at a Git ref, for `contractgate diff`.
//!
//! Read with the `git` binary through `std::process`, not a Git crate: a
//! pull request's CI job has `git` already (it made the checkout), the two
//! plumbing commands used here (`ls-tree`, `cat-file`) are stable for
//! scripts, and a Rust implementation (gix) would add hundreds of crates
//! to build for what two commands do. Objects are read from Git's
//! database, never from the working tree, so uncommitted edits cannot
//! leak into the base.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;

/// Writes the files below `folder` as they are in `reference` into `into`
/// (which must exist). A folder the ref does not have writes nothing: at
/// that ref there were no contracts.
pub fn export_folder(folder: &Path, reference: &str, into: &Path) -> Result<(), Error> {
    // Paths below the folder, relative to the repository root.
    let prefix = git(folder, &["rev-parse", "--show-prefix"])?;
    let prefix = String::from_utf8_lossy(&prefix).trim().to_owned();
    let commit = format!("{reference}^{{commit}}");
    git(folder, &["rev-parse", "--verify", "--quiet", &commit]).map_err(|_| {
        Error::new(
            folder,
            format!("`{reference}` is not a commit of this repository (fetch it first, e.g. `git fetch origin {reference}`)"),
        )
    })?;
    let mut arguments = vec!["ls-tree", "-r", "-z", "--full-tree", reference];
    if !prefix.is_empty() {
        arguments.extend(["--", prefix.as_str()]);
    }
    let listing = git(folder, &arguments)?;
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        // `<mode> <type> <object>\t<path>`
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = meta.split(' ').collect();
        // Blobs only, and no symbolic links (mode 120000): a link could
        // point outside the folder.
        let [mode, "blob", object] = fields[..] else {
            continue;
        };
        if mode == "120000" {
            continue;
        }
        let Some(relative) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let target = safe_join(into, relative).ok_or_else(|| {
            Error::new(
                folder,
                format!("`{path}` at {reference} is not a plain path"),
            )
        })?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::new(parent, format!("cannot create the folder: {e}")))?;
        }
        let content = git(folder, &["cat-file", "blob", object])?;
        std::fs::write(&target, content)
            .map_err(|e| Error::new(&target, format!("cannot write the file: {e}")))?;
    }
    Ok(())
}

/// `into/relative`, refusing `..`, absolute paths and the like.
fn safe_join(into: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    path.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| into.join(path))
}

/// Runs `git` in `folder` and returns its standard output.
fn git(folder: &Path, arguments: &[&str]) -> Result<Vec<u8>, Error> {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(folder)
        .output()
        .map_err(|e| Error::new(folder, format!("cannot run git: {e}")))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(Error::new(
            folder,
            format!(
                "`git {}` failed: {}",
                arguments.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_written() {
        let into = Path::new("/base");
        assert_eq!(
            safe_join(into, "a/b.json"),
            Some(PathBuf::from("/base/a/b.json"))
        );
        assert_eq!(safe_join(into, "../x"), None);
        assert_eq!(safe_join(into, "/etc/x"), None);
    }
}
