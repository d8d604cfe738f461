//! Configuration problems: each names the file, the line and column, and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a configuration or inventory file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub col: usize,
    /// What is wrong, and what would be right.
    pub reason: String,
}

impl Problem {
    /// A problem about the whole of `file`: it cannot be read, or is too large.
    pub(crate) fn whole_file(file: &Path, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line: 0,
            col: 0,
            reason: reason.into(),
        }
    }
}

/// Reads the text file `path`, refusing one larger than `max` bytes. Configuration, inventory,
/// catalogue and feed files are all read through here, so each is bounded and reported the same
/// way; `what` names the kind of file in the message.
pub(crate) fn read_bounded(path: &Path, max: u64, what: &str) -> Result<String, Problem> {
    let meta = std::fs::metadata(path).map_err(|e| Problem::whole_file(path, e.to_string()))?;
    if meta.len() > max {
        return Err(Problem::whole_file(
            path,
            format!("file is {} bytes; a {what} is at most {max}", meta.len()),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| Problem::whole_file(path, e.to_string()))
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (0, _) => write!(f, "{}: {}", self.file.display(), self.reason),
            (l, 0) => write!(f, "{}:{}: {}", self.file.display(), l, self.reason),
            (l, c) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.reason),
        }
    }
}

/// Every problem found while loading a configuration; loading reports them all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} configuration problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems for one file, turning byte offsets into line and column.
pub(crate) struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    pub(crate) list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Problems<'a> {
        Problems {
            file,
            text,
            list: Vec::new(),
        }
    }

    /// A problem at byte offset `at` of the text (`None`: the whole file).
    pub(crate) fn at(&mut self, at: impl Into<Option<usize>>, reason: impl Into<String>) {
        let (line, col) = at.into().map_or((0, 0), |o| line_col(self.text, o));
        self.list.push(Problem {
            file: self.file.to_owned(),
            line,
            col,
            reason: reason.into(),
        });
    }

    /// `r`'s value, or its error as a problem at `at`.
    pub(crate) fn take<T>(
        &mut self,
        at: impl Into<Option<usize>>,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|e| self.at(at, e)).ok()
    }

    /// A problem on 1-based `line` (CSV rows).
    pub(crate) fn line(&mut self, line: usize, reason: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.to_owned(),
            line,
            col: 0,
            reason: reason.into(),
        });
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = x\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn read_bounded_refuses_large_and_missing_files_as_whole_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.txt");
        std::fs::write(&path, "198.51.100.0/24\n").unwrap();
        assert_eq!(
            read_bounded(&path, 16, "feed").unwrap(),
            "198.51.100.0/24\n"
        );
        let p = read_bounded(&path, 15, "feed").unwrap_err();
        assert_eq!((p.file.as_path(), p.line, p.col), (path.as_path(), 0, 0));
        assert_eq!(p.reason, "file is 16 bytes; a feed is at most 15");
        let missing = dir.path().join("absent.txt");
        let p = read_bounded(&missing, 16, "feed").unwrap_err();
        assert_eq!((p.file.as_path(), p.line), (missing.as_path(), 0));
        assert!(p.reason.contains("No such file"), "{}", p.reason);
    }

    #[test]
    fn display_names_file_line_and_reason() {
        let p = Problem {
            file: "x.toml".into(),
            line: 3,
            col: 7,
            reason: "bad".into(),
        };
        assert_eq!(p.to_string(), "x.toml:3:7: bad");
    }
}
