//! Writing the merged report, and the pictures of the run drawn from it (`--html`,
//! `--markdown`, `--audit`, the text timeline of `--summary`): the merged report is written
//! first, read back once, and every file is put in place only when all of them were written.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};

use shardkit::merge::Merge;
use shardkit::output::PendingFile;
use shardkit::summary::audit::{AuditFormat, AuditWriter};
use shardkit::summary::checks::Checks;
use shardkit::summary::timeline::{self, Layout};
use shardkit::summary::{self, RunSummary};

/// What to draw of the run.
#[derive(Debug)]
pub(super) struct Pictures<'a> {
    pub(super) html: Option<&'a Path>,
    pub(super) markdown: Option<&'a Path>,
    pub(super) audit: Option<&'a Path>,
    pub(super) format: AuditFormat,
    /// The text timeline, for `--summary`.
    pub(super) timeline: bool,
    pub(super) slowest: usize,
}

impl Pictures<'_> {
    fn wanted(&self) -> bool {
        self.html.is_some() || self.markdown.is_some() || self.audit.is_some() || self.timeline
    }

    pub(super) fn audit_to_stdout(&self) -> bool {
        self.audit.is_some_and(|p| p == Path::new("-"))
    }

    /// No two outputs may be the same file: the last one put in place would replace the other.
    pub(super) fn check_paths(&self, output: Option<&Path>) -> Result<()> {
        let named = [
            ("-o", output),
            ("--html", self.html),
            ("--markdown", self.markdown),
            ("--audit", self.audit.filter(|_| !self.audit_to_stdout())),
        ];
        // A file that is not there yet is named by its folder, resolved, and its name.
        let resolved = |p: &Path| {
            let folder = match p.parent() {
                Some(f) if !f.as_os_str().is_empty() => f,
                _ => Path::new("."),
            };
            match (folder.canonicalize(), p.file_name()) {
                (Ok(folder), Some(name)) => folder.join(name),
                _ => p.to_path_buf(),
            }
        };
        let same = |a: &Path, b: &Path| a == b || resolved(a) == resolved(b);
        for (i, (flag, path)) in named.iter().enumerate() {
            for (other, then) in &named[i + 1..] {
                if let (Some(a), Some(b)) = (path, then)
                    && same(a, b)
                {
                    anyhow::bail!("{flag} and {other} name the same file, {}", a.display());
                }
            }
        }
        Ok(())
    }
}

/// Writes the merged report to `output` (atomically, keeping `keep` versions it replaces),
/// else to stdout, and the pictures; returns the text timeline's lines. Every file is put in
/// place only when all were written.
pub(super) fn write_with(
    merged: &Merge,
    output: Option<&Path>,
    keep: usize,
    pictures: &Pictures<'_>,
) -> Result<Vec<String>> {
    if !pictures.wanted() {
        write_merged(merged, output, keep)?;
        return Ok(Vec::new());
    }
    match output {
        Some(path) => {
            let mut file = PendingFile::create(path)?;
            merged.write_file(file.file()?)?;
            file.finish()?;
            let drawn = match read_back(file.file()?) {
                Some(mut again) => draw(&mut again, merged, pictures)?,
                None => {
                    // A device or a FIFO cannot be read back: write the report again aside.
                    let mut spool = spooled(merged)?;
                    draw(&mut spool, merged, pictures)?
                }
            };
            file.commit_keeping(keep)?;
            drawn.commit()
        }
        None => {
            let mut spool = spooled(merged)?;
            let drawn = draw(&mut spool, merged, pictures)?;
            spool.seek(SeekFrom::Start(0))?;
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            io::copy(&mut spool, &mut out).context("cannot write to stdout")?;
            out.flush().context("cannot write to stdout")?;
            drawn.commit()
        }
    }
}

/// The pictures written and not yet in place, and the text timeline.
struct Drawn {
    files: Vec<PendingFile>,
    timeline: Vec<String>,
}

impl Drawn {
    fn commit(self) -> Result<Vec<String>> {
        for file in self.files {
            file.commit()?;
        }
        Ok(self.timeline)
    }
}

/// The merged report once more, in a temporary file.
fn spooled(merged: &Merge) -> Result<File> {
    let mut spool = tempfile::tempfile().context("cannot make a temporary file")?;
    merged.write_file(&spool)?;
    spool.seek(SeekFrom::Start(0))?;
    Ok(spool)
}

/// A second handle on `file` from its start, when it is a regular file.
fn read_back(file: &File) -> Option<File> {
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut again = file.try_clone().ok()?;
    again.seek(SeekFrom::Start(0)).ok()?;
    Some(again)
}

/// Reads the merged report from `report` and writes every picture asked for, each to its
/// temporary file.
fn draw(report: &mut File, merged: &Merge, pictures: &Pictures<'_>) -> Result<Drawn> {
    let input = io::BufReader::with_capacity(1 << 16, report);
    let mut files = Vec::new();
    let summary = match pictures.audit {
        Some(path) if path == Path::new("-") => {
            let stdout = io::stdout();
            let out = BufWriter::with_capacity(1 << 16, stdout.lock());
            let mut audit =
                AuditWriter::new(out, pictures.format).context("cannot write to stdout")?;
            let summary = read(input, pictures, |case| audit.case(case))?;
            audit.finish().context("cannot write to stdout")?;
            summary
        }
        Some(path) => {
            let mut file = PendingFile::create(path)?;
            let cannot = || format!("cannot write {}", path.display());
            let mut audit =
                AuditWriter::new(file.writer(), pictures.format).with_context(cannot)?;
            let summary = read(input, pictures, |case| audit.case(case))?;
            audit.finish().with_context(cannot)?;
            file.finish()?;
            files.push(file);
            summary
        }
        None => read(input, pictures, |_| Ok(()))?,
    };
    let checks = Checks::of(merged.report());
    let pages = [
        (
            pictures.html,
            summary::html::page as fn(&RunSummary, &Checks) -> String,
        ),
        (pictures.markdown, summary::markdown::summary),
    ];
    for (path, render) in pages {
        if let Some(path) = path {
            let mut file = PendingFile::create(path)?;
            file.writer()
                .write_all(render(&summary, &checks).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.finish()?;
            files.push(file);
        }
    }
    let layout = Layout::of(&summary.nodes, summary.origin(), summary.finish());
    let timeline = if pictures.timeline && layout.extent > 0.0 {
        timeline::text(&layout)
    } else {
        Vec::new()
    };
    Ok(Drawn { files, timeline })
}

fn read(
    input: impl io::Read,
    pictures: &Pictures<'_>,
    each: impl FnMut(&summary::CaseRecord<'_>) -> io::Result<()>,
) -> Result<RunSummary> {
    summary::summarize(input, pictures.slowest, each)
        .context("cannot read the merged report back to draw the run")
}

/// Writes the merged report to `output` (atomically, keeping `keep` versions it replaces),
/// else to stdout.
fn write_merged(merged: &Merge, output: Option<&Path>, keep: usize) -> Result<()> {
    match output {
        Some(path) => {
            let mut file = PendingFile::create(path)?;
            merged.write_file(file.file()?)?;
            file.finish()?;
            file.commit_keeping(keep)?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            merged.write(&mut out)?;
            out.flush().context("cannot write to stdout")?;
        }
    }
    Ok(())
}
