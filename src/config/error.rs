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
    pub(crate) fn at(&mut self, at: Option<usize>, reason: impl Into<String>) {
        let (line, col) = at.map_or((0, 0), |o| line_col(self.text, o));
        self.list.push(Problem {
            file: self.file.to_owned(),
            line,
            col,
            reason: reason.into(),
        });
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
