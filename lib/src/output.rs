//! Writing output files atomically: a temporary file beside the target, then a rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Bytes buffered before a write to the file.
const BUFFER: usize = 256 * 1024;

/// An output file being written. Readers of the target see the old file or the whole new one,
/// never a part: the data goes to a temporary file beside the target, which [`commit`]
/// renames over it. Dropped without [`commit`], the temporary file is removed and the target
/// is left as it was.
///
/// Missing parent directories are made. A symlink is followed: the file it points to is
/// replaced. A target under `/dev` or
/// `/proc`, or one that exists and is not a regular file (a FIFO), is written directly. A new
/// file gets the permissions an ordinary new file would (0666 less the umask); a replaced file
/// keeps its own.
///
/// [`commit`]: PendingFile::commit
#[derive(Debug)]
pub struct PendingFile {
    path: PathBuf,
    out: Out,
}

#[derive(Debug)]
enum Out {
    Temporary(BufWriter<NamedTempFile>),
    Direct(BufWriter<File>),
}

impl PendingFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let wrap = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        if is_special(path) {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(wrap)?;
            return Ok(PendingFile {
                path: path.to_path_buf(),
                out: Out::Direct(BufWriter::with_capacity(BUFFER, file)),
            });
        }
        let target = target_of(path);
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // The new file gets the old one's permissions, or the usual ones (0666 less the
        // umask) rather than the private 0600 of a temporary file.
        #[cfg(unix)]
        let permissions = match fs::metadata(&target) {
            Ok(meta) => meta.permissions(),
            Err(_) => std::os::unix::fs::PermissionsExt::from_mode(0o666),
        };
        #[cfg(unix)]
        builder.permissions(permissions);
        // A directory that is not there yet is made, as report writers do (`reports/node-1.xml`).
        fs::create_dir_all(dir).map_err(wrap)?;
        let temp = builder.tempfile_in(dir).map_err(wrap)?;
        Ok(PendingFile {
            path: target,
            out: Out::Temporary(BufWriter::with_capacity(BUFFER, temp)),
        })
    }

    /// Where the data goes until [`commit`](PendingFile::commit).
    pub fn writer(&mut self) -> &mut dyn Write {
        match &mut self.out {
            Out::Temporary(w) => w,
            Out::Direct(w) => w,
        }
    }

    /// The file the data goes to, with everything written so far handed to it: to write to
    /// it directly (copying from another file without reading it into the process).
    pub fn file(&mut self) -> Result<&File> {
        let wrap = |source: io::Error| Error::Write {
            path: self.path.clone(),
            source,
        };
        match &mut self.out {
            Out::Direct(w) => {
                w.flush().map_err(wrap)?;
                Ok(w.get_ref())
            }
            Out::Temporary(w) => {
                w.flush().map_err(wrap)?;
                Ok(w.get_ref().as_file())
            }
        }
    }

    /// Hands the data to the operating system, so that what can fail fails now; [`commit`]
    /// then only renames. Call it before writing anything else a failure should not leave
    /// behind. The data is not forced to disk (no fsync): the rename keeps readers from a
    /// part-written file, and a report is made again after a crash of the machine anyway,
    /// where waiting for the disk would cost every run.
    ///
    /// [`commit`]: PendingFile::commit
    pub fn finish(&mut self) -> Result<()> {
        let wrap = |source: io::Error| Error::Write {
            path: self.path.clone(),
            source,
        };
        match &mut self.out {
            Out::Direct(w) => w.flush().map_err(wrap),
            Out::Temporary(w) => w.flush().map_err(wrap),
        }
    }

    /// Puts the new file in place of the old one, which is kept as the newest of `keep`
    /// earlier versions (see [`earlier_versions`]); the oldest of those goes. A device or a
    /// FIFO has no versions: with it, `keep` is ignored.
    pub fn commit_keeping(mut self, keep: usize) -> Result<()> {
        if keep > 0 && matches!(self.out, Out::Temporary(_)) {
            // Written whole before anything moves: a failure leaves every file as it was.
            self.finish()?;
            keep_versions(&self.path, keep)?;
        }
        self.commit()
    }

    /// Puts the new file in place of the old one.
    pub fn commit(mut self) -> Result<()> {
        self.finish()?;
        let path = self.path;
        let wrap = |source: io::Error| Error::Write {
            path: path.clone(),
            source,
        };
        match self.out {
            Out::Direct(_) => Ok(()),
            Out::Temporary(w) => {
                let temp = w.into_inner().map_err(|e| wrap(e.into_error()))?;
                temp.persist(&path).map_err(|e| wrap(e.error))?;
                Ok(())
            }
        }
    }
}

/// The file that writing `path` replaces: the one a symlink leads to, else `path` itself.
fn target_of(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// Where [`PendingFile::commit_keeping`] keeps the `keep` earlier versions of an output
/// written to `path`: beside the file it replaces (a symlink's target), named as
/// [`earlier_versions`] says.
pub fn kept_versions(path: &Path, keep: usize) -> Vec<PathBuf> {
    earlier_versions(&target_of(path), keep)
}

/// The names of the `keep` earlier versions of `path` that [`PendingFile::commit_keeping`]
/// keeps beside it, the newest first: `timings/junit.xml` keeps `timings/junit.1.xml` to
/// `timings/junit.N.xml` (a directory walked for `*.xml` finds them all); a name without an
/// extension gets `.1` to `.N`.
pub fn earlier_versions(path: &Path, keep: usize) -> Vec<PathBuf> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let extension = path.extension().map(|x| x.to_string_lossy());
    (1..=keep)
        .map(|n| {
            let name = match &extension {
                Some(x) => format!("{stem}.{n}.{x}"),
                None => format!("{stem}.{n}"),
            };
            path.with_file_name(name)
        })
        .collect()
}

/// Before `target` is replaced: shifts its kept versions one older (the oldest, the
/// `keep`-th, goes) and keeps `target` itself as the newest. `target` stays in place all along
/// (it is linked, not moved, where the file system allows), so a reader never finds it
/// missing. With no `target` yet, nothing moves: the versions already kept stay as they are.
fn keep_versions(target: &Path, keep: usize) -> Result<()> {
    let versions = earlier_versions(target, keep);
    let (Some(newest), true) = (versions.first(), target.is_file()) else {
        return Ok(());
    };
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    for pair in versions.windows(2).rev() {
        match fs::rename(&pair[0], &pair[1]) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(wrap(&pair[1])(e)),
            _ => {}
        }
    }
    // Linked (or copied) to a name of its own first, then renamed: the newest version is
    // whole or absent, never part-written.
    let name = newest.file_name().unwrap_or_default().to_string_lossy();
    let aside = newest.with_file_name(format!(".{name}.tmp"));
    let _ = fs::remove_file(&aside);
    if fs::hard_link(target, &aside).is_err() {
        fs::copy(target, &aside).map_err(wrap(&aside))?;
    }
    fs::rename(&aside, newest).map_err(wrap(newest))
}

/// Whether `path` is a device or the like (`/dev/stdout`, a FIFO), which cannot be replaced
/// and is written directly. `/dev/stdout` may lead to a regular file (`> out.txt`), which
/// must not be renamed over.
pub fn is_special(path: &Path) -> bool {
    path.starts_with("/dev")
        || path.starts_with("/proc")
        || fs::metadata(path).is_ok_and(|meta| !meta.is_file())
}

/// Writes `path` with `fill`, atomically (see [`PendingFile`]).
pub fn write_atomically<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut file = PendingFile::create(path)?;
    fill(file.writer()).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.tsv");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("plan.tsv"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        write_atomically(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn uncommitted_files_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.tsv");
        let mut file = PendingFile::create(&path).unwrap();
        file.writer().write_all(b"data").unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_special_files_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tsv");
        let link = dir.path().join("link.tsv");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, |w| w.write_all(b"new")).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");

        write_atomically(Path::new("/dev/null"), |w| w.write_all(b"gone")).unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn earlier_versions_are_named_by_their_age_before_the_extension() {
        assert_eq!(
            earlier_versions(Path::new("timings/junit.xml"), 2),
            [
                PathBuf::from("timings/junit.1.xml"),
                PathBuf::from("timings/junit.2.xml")
            ]
        );
        assert_eq!(
            earlier_versions(Path::new("merged"), 1),
            [PathBuf::from("merged.1")]
        );
        assert!(earlier_versions(Path::new("junit.xml"), 0).is_empty());
    }

    fn commit(path: &Path, text: &str, keep: usize) {
        let mut file = PendingFile::create(path).unwrap();
        file.writer().write_all(text.as_bytes()).unwrap();
        file.commit_keeping(keep).unwrap();
    }

    /// The names in `dir` and what each file holds, in name order.
    fn contents(dir: &Path) -> Vec<(String, String)> {
        let mut all: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn a_committed_file_keeps_the_ones_it_replaces_up_to_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        // Each commit, how many it keeps, and what is then kept: `junit.1.xml`, `junit.2.xml`.
        let steps: [(&str, usize, &[&str]); 5] = [
            ("run 1", 2, &[]),
            ("run 2", 2, &["run 1"]),
            ("run 3", 2, &["run 2", "run 1"]),
            // The oldest goes; nothing else is left beside them.
            ("run 4", 2, &["run 3", "run 2"]),
            // Fewer kept than before: the extra version stays as it was, not refreshed.
            ("run 5", 1, &["run 4", "run 2"]),
        ];
        for (text, keep, kept) in steps {
            commit(&path, text, keep);
            let mut expected: Vec<(String, String)> = kept
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("junit.{}.xml", i + 1), k.to_string()))
                .collect();
            expected.push(("junit.xml".into(), text.into()));
            assert_eq!(contents(dir.path()), expected, "after {text}");
        }
        // A file dropped before its commit moves nothing.
        let mut dropped = PendingFile::create(&path).unwrap();
        dropped.writer().write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(contents(dir.path()).len(), 3);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "run 5");
    }

    #[test]
    fn versions_kept_of_a_missing_file_stay_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        std::fs::write(dir.path().join("junit.1.xml"), "older").unwrap();
        commit(&path, "new", 2);
        assert_eq!(
            contents(dir.path()),
            [
                ("junit.1.xml".to_string(), "older".to_string()),
                ("junit.xml".to_string(), "new".to_string())
            ]
        );
        // A device has no versions.
        let mut null = PendingFile::create(Path::new("/dev/null")).unwrap();
        null.writer().write_all(b"gone").unwrap();
        null.commit_keeping(3).unwrap();
        assert!(!Path::new("/dev/null.1").exists());
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_those_of_an_ordinary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.tsv");
        write_atomically(&path, |w| w.write_all(b"new")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode & 0o044, 0, "mode {mode:o}: others cannot read it");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, |w| w.write_all(b"newer")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
