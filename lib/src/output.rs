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
        let target = match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
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
