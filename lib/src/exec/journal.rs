//! The journal: the results of a run on disk as they become final, so that a shard-exec
//! killed hard (SIGKILL: the OOM killer, a CI timeout) loses none of the tests that had
//! finished.
//!
//! For the report `out/node-2.xml` it is `out/node-2.journal.xml` (see [`path_for`]): a JUnit
//! document written as a stream. It starts with the root and the node's suite, whose
//! properties name the node as the report's do (`shard.node`, `shard.nodes`, `shard.plan`,
//! `hostname`) and mark it as a journal ([`JOURNAL_PROPERTY`]); then each id's `<testcase>`,
//! the same as the report's, is appended and handed to the operating system (one write, no
//! fsync: a process killed loses nothing so written, a machine that crashed runs again anyway)
//! as soon as its result is final, not while a retry is pending. It is never closed: when the
//! run ends the complete report takes its place and it is removed. What a killed run leaves is
//! a report cut after its last complete case, which `shard-merge --salvage` reads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::junit::writer::JunitWriter;
use crate::output::{PendingFile, is_special};

use super::report::{self, Identity};
use super::results::ChildCase;
use super::{Finished, Observer, RunResult, TestResult};

/// The suite property that marks a journal; its value is the file name of the report that
/// replaces it.
pub const JOURNAL_PROPERTY: &str = "shard.journal";

/// Bytes buffered: a case is written in one go when it fits.
const BUFFER: usize = 64 * 1024;

/// Where the journal of the report at `report` goes: beside it, `node-2.xml` giving
/// `node-2.journal.xml` (a name without `.xml` gets `.journal.xml` added), so that a walk of
/// the report's directory for `*.xml` finds it. `None` when the report goes to a device, a
/// FIFO or the like (`/dev/stdout`): nobody would look for a journal beside it.
pub fn path_for(report: &Path) -> Option<PathBuf> {
    if is_special(report) {
        return None;
    }
    let name = report.file_name()?.to_string_lossy();
    let stem = match name.len().checked_sub(4) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".xml") => {
            &name[..cut]
        }
        _ => &name[..],
    };
    Some(report.with_file_name(format!("{stem}.journal.xml")))
}

/// A journal being written.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// `None` once a write failed: the journal is given up, the run goes on.
    out: Option<JunitWriter<BufWriter<File>>>,
    node: String,
}

impl Journal {
    /// Starts the journal of the report at `report` (see [`path_for`]), for a run that
    /// started at `started`; `None` when the report gets none. A journal left there by an
    /// earlier run is replaced.
    pub fn create(report: &Path, who: &Identity<'_>, started: SystemTime) -> Result<Option<Self>> {
        let Some(path) = path_for(report) else {
            return Ok(None);
        };
        let wrap = |source| Error::Write {
            path: path.clone(),
            source,
        };
        // The report's directory: when it cannot be made, the report cannot be written.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: report.to_path_buf(),
                source,
            })?;
        }
        // Removed, then made anew: never written through a symlink or into a FIFO left there.
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(wrap(e)),
            _ => {}
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(wrap)?;
        let stamp = report::timestamp(started);
        let start = report::timestamp_ms(started);
        let report_name = report
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let head = (|| {
            let mut w = JunitWriter::new(BufWriter::with_capacity(BUFFER, file))?;
            report::write_head(
                &mut w,
                who,
                &[("timestamp", &stamp)],
                &stamp,
                &[
                    (report::START_PROPERTY, &start),
                    (JOURNAL_PROPERTY, &report_name),
                ],
            )?;
            w.get_mut().flush()?;
            Ok(w)
        })();
        match head {
            Ok(w) => Ok(Some(Journal {
                path,
                out: Some(w),
                node: who.node.to_string(),
            })),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(wrap(e))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the case of an id whose result is final. The first failure gives the journal
    /// up (and is returned); later calls do nothing.
    pub fn record(&mut self, result: &TestResult) -> io::Result<()> {
        self.append(|w, node| report::write_case(w, result, node))
    }

    /// Appends a case of a command's report that named none of its batch's ids.
    pub fn record_unmatched(&mut self, case: &ChildCase) -> io::Result<()> {
        self.append(|w, node| report::write_unmatched(w, case, node))
    }

    fn append(
        &mut self,
        write: impl FnOnce(&mut JunitWriter<BufWriter<File>>, &str) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(w) = self.out.as_mut() else {
            return Ok(());
        };
        let written = write(w, &self.node).and_then(|()| w.get_mut().flush());
        if written.is_err() {
            self.out = None;
        }
        written
    }

    /// Removes the journal: the run's report is in place.
    pub fn remove(mut self) -> Result<()> {
        self.out = None;
        fs::remove_file(&self.path).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// The node's report file (`--junit`) and its journal, from before the run to after it.
#[derive(Debug)]
pub struct ReportFile {
    path: PathBuf,
    journal: Option<Journal>,
    /// Made before the run when there is no journal (a device, a FIFO): opened early, so that
    /// a path that cannot be written is found before anything runs.
    pending: Option<PendingFile>,
}

impl ReportFile {
    /// Starts the journal of the report at `path` or, when it gets none, the report's own file.
    /// Either finds a directory that cannot be made before anything runs; the journal does it
    /// without leaving an empty temporary file behind a run that is killed.
    pub fn open(path: &Path, who: &Identity<'_>, started: SystemTime) -> Result<Self> {
        let journal = Journal::create(path, who, started)?;
        let pending = match journal {
            Some(_) => None,
            None => Some(PendingFile::create(path)?),
        };
        Ok(ReportFile {
            path: path.to_path_buf(),
            journal,
            pending,
        })
    }

    /// The journal, to record the run's results in as they come.
    pub fn journal(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    /// Where the journal is, while there is one.
    pub fn journal_path(&self) -> Option<&Path> {
        self.journal.as_ref().map(Journal::path)
    }

    /// Writes the report of `run` in place, atomically. On failure the journal stays: it
    /// holds the results of the tests that finished.
    pub fn write(&mut self, run: &RunResult, who: &Identity<'_>) -> Result<()> {
        let mut file = match self.pending.take() {
            Some(file) => file,
            None => PendingFile::create(&self.path)?,
        };
        report::write(run, who, file.writer()).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })?;
        file.commit()
    }

    /// After [`write`](ReportFile::write): removes the journal, which the report replaces.
    pub fn finish(self) -> Result<()> {
        self.journal.map_or(Ok(()), Journal::remove)
    }
}

/// An observer that writes each final result to a journal and passes everything on to
/// `inner`; a journal that cannot be written is reported as a warning and given up.
#[derive(Debug)]
pub struct Recorder<'a, O: Observer + ?Sized> {
    journal: Option<&'a mut Journal>,
    inner: &'a mut O,
}

impl<'a, O: Observer + ?Sized> Recorder<'a, O> {
    pub fn new(journal: Option<&'a mut Journal>, inner: &'a mut O) -> Self {
        Recorder { journal, inner }
    }

    fn written(&mut self, written: io::Result<()>) {
        if let Err(e) = written
            && let Some(journal) = self.journal.take()
        {
            self.inner.warning(&format!(
                "cannot write the journal {}: {e}; the results from now on are only in the report written at the end",
                journal.path().display()
            ));
        }
    }
}

impl<O: Observer + ?Sized> Observer for Recorder<'_, O> {
    fn started(&mut self, ids: &[&str], slot: usize, attempt: u32) {
        self.inner.started(ids, slot, attempt);
    }

    fn finished(&mut self, finished: &Finished<'_>) {
        self.inner.finished(finished);
    }

    fn warning(&mut self, message: &str) {
        self.inner.warning(message);
    }

    fn settled(&mut self, result: &TestResult) {
        if let Some(journal) = self.journal.as_mut() {
            let written = journal.record(result);
            self.written(written);
        }
        self.inner.settled(result);
    }

    fn unmatched(&mut self, case: &ChildCase) {
        if let Some(journal) = self.journal.as_mut() {
            let written = journal.record_unmatched(case);
            self.written(written);
        }
        self.inner.unmatched(case);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Attempt, Outcome, Output, ProcessSpan};
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    fn who() -> Identity<'static> {
        Identity {
            node: 2,
            nodes: 3,
            plan: Some("sha256:abc"),
            hostname: "ci-7".into(),
        }
    }

    fn result(id: &str, outcome: Outcome) -> TestResult {
        TestResult {
            id: id.into(),
            attempts: vec![Attempt {
                number: 1,
                outcome,
                message: (outcome != Outcome::Passed).then(|| "exit status 1".into()),
                seconds: 0.5,
                output: Arc::new(Output::default()),
                case: None,
                process: Some(ProcessSpan {
                    slot: 2,
                    process: 7,
                    started: UNIX_EPOCH + Duration::from_millis(1_714_564_800_250),
                    ended: UNIX_EPOCH + Duration::from_millis(1_714_564_801_000),
                }),
            }],
            not_run: None,
        }
    }

    #[test]
    fn journal_paths() {
        let at = |p: &str| path_for(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(
            at("out/node-2.xml").as_deref(),
            Some("out/node-2.journal.xml")
        );
        assert_eq!(at("node-2.XML").as_deref(), Some("node-2.journal.xml"));
        assert_eq!(at("out/report").as_deref(), Some("out/report.journal.xml"));
        assert_eq!(at("/dev/stdout"), None);
    }

    #[test]
    fn each_final_result_is_on_disk_at_once_and_an_old_journal_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("node-2.xml");
        let path = dir.path().join("node-2.journal.xml");
        fs::write(&path, "an earlier run's journal").unwrap();
        let mut journal = Journal::create(&report, &who(), SystemTime::now())
            .unwrap()
            .unwrap();
        assert_eq!(journal.path(), path);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("earlier"), "{text}");
        for property in [
            r#"<property name="shard.node" value="2"/>"#,
            r#"<property name="shard.nodes" value="3"/>"#,
            r#"<property name="shard.plan" value="sha256:abc"/>"#,
            r#"<property name="shard.journal" value="node-2.xml"/>"#,
        ] {
            assert!(text.contains(property), "{property} not in {text}");
        }
        assert!(!text.contains("<testcase"), "{text}");

        journal
            .record(&result("a::passes", Outcome::Passed))
            .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("</testcase>"), "{text}");
        for property in [
            r#"<property name="shard.id" value="a::passes"/>"#,
            r#"<property name="shard.slot" value="2"/>"#,
            r#"<property name="shard.process" value="7"/>"#,
            r#"<property name="shard.process.start" value="2024-05-01T12:00:00.250Z"/>"#,
            r#"<property name="shard.process.end" value="2024-05-01T12:00:01.000Z"/>"#,
        ] {
            assert!(text.contains(property), "{property} not in {text}");
        }
        journal
            .record(&result("a::fails", Outcome::Failed))
            .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("</testcase>"), "{text}");
        assert!(
            text.contains(r#"<failure message="exit status 1""#),
            "{text}"
        );
        assert_eq!(text.matches("<testcase").count(), 2, "{text}");

        journal.remove().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn no_journal_beside_a_device() {
        let made = Journal::create(Path::new("/dev/null"), &who(), SystemTime::now()).unwrap();
        assert!(made.is_none());
    }
}
