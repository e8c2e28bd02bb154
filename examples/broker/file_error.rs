//! What goes wrong reading the broker's files (configuration, passwords, ACL): the file cannot
//! be read, or one of its lines is wrong, said with the line's number.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What is wrong with a line, for one kind of file.
pub trait LineProblem: fmt::Display + fmt::Debug {
    /// The kind of file, as the message names it ("ACL file").
    const FILE: &'static str;

    /// The error underneath, if there is one.
    fn cause(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

/// Why a file was refused.
#[derive(Debug)]
pub enum FileError<P> {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line is wrong.
    Line {
        /// Its number, from 1.
        number: usize,
        /// What of it is shown: its text without leading and trailing blanks, or less where the
        /// line holds a secret (a password hash).
        line: String,
        /// What is wrong with it.
        problem: P,
    },
}

impl<P: LineProblem> fmt::Display for FileError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            FileError::Line { number, line, problem } if line.is_empty() => {
                write!(f, "{} line {number}: {problem}", P::FILE)
            }
            FileError::Line { number, line, problem } => {
                write!(f, "{} line {number}: {problem}: {line}", P::FILE)
            }
        }
    }
}

impl<P: LineProblem> std::error::Error for FileError<P> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Read { source, .. } => Some(source),
            FileError::Line { problem, .. } => problem.cause(),
        }
    }
}
