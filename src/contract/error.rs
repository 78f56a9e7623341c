//! The one error type of the contract layer: a problem found while loading,
//! compiling or comparing contracts, always tied to the file it came from.

use std::fmt;
use std::path::{Path, PathBuf};

/// A contract problem, said the way `contractgate check` prints it:
/// `path: what is wrong and what to do about it`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file (or folder) at fault.
    pub path: PathBuf,
    /// The line in that file, when one is to blame (1-based).
    pub line: Option<usize>,
    /// What is wrong there, in one sentence.
    pub message: String,
}

impl Error {
    /// A problem with `path`.
    pub fn new(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Self::at(path, None, message)
    }

    /// A problem at a line of `path`, when the line is known.
    pub fn at(path: impl AsRef<Path>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for Error {}
