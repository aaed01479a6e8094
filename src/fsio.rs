//! Reads the files a user names (gate files, CA bundles, reports for
//! `diff`, expositions) under a running cap. `metadata().len()` is 0 for
//! devices and FIFOs, so the cap is enforced while reading, never trusted
//! from the size; and a pipe that never delivers is given up after a while
//! rather than waited on forever.
//!
//! Report files are written the other way round, atomically ([`Artifact`]):
//! a reader that polls them (node_exporter's textfile collector, a CI step)
//! sees the old file or the new one, never half of one.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// How long a FIFO or device may take to deliver its first and last bytes.
pub const SLOW_INPUT: Duration = Duration::from_secs(10);

/// Why a file could not be read. Messages leave the path out: callers
/// put it first, as `path: message`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("is a directory, not one of the {what}")]
    Directory { what: String },
    #[error("is larger than the {limit} limit for {what}")]
    TooLarge { limit: String, what: String },
    #[error("delivered no complete input within {}s (a FIFO with no writer?)", .after.as_secs())]
    Stalled { after: Duration },
}

/// Reads at most `cap` bytes of `path`; more is [`ReadError::TooLarge`].
/// `what` names the input in the error ("gate files").
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, ReadError> {
    read_capped_within(path, cap, what, SLOW_INPUT)
}

/// [`read_capped`] with the patience for FIFOs and devices given.
fn read_capped_within(path: &Path, cap: u64, what: &str, patience: Duration) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        what: what.trim_end_matches('s').to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(ReadError::Directory { what: what.to_string() });
    }
    let too_large = || ReadError::TooLarge {
        limit: crate::http::fmt_bytes(cap as usize),
        what: what.to_string(),
    };
    if meta.is_file() {
        if meta.len() > cap {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(cap + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        return if bytes.len() as u64 > cap {
            Err(too_large())
        } else {
            Ok(bytes)
        };
    }
    // A FIFO or device: open and read on a thread so a writer that never
    // comes (or a device that never ends) costs a bounded wait, not a hang.
    let owned = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = std::fs::File::open(&owned).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(cap + 1).read_to_end(&mut bytes).map(|_| bytes)
        });
        let _ = tx.send(result);
    });
    match rx.recv_timeout(patience) {
        Ok(Ok(bytes)) if bytes.len() as u64 > cap => Err(too_large()),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(ReadError::Stalled { after: patience }),
    }
}

/// A report file that appears complete or not at all: the text goes to a
/// temporary file beside the destination, which is then renamed over it.
/// The temporary file is made when the artifact is opened, so a directory
/// that cannot be written is found before the run, and removed if the
/// artifact is dropped unwritten.
///
/// A destination that exists and is not a regular file (`/dev/stdout`, a
/// FIFO, a device) is written in place: renaming over it would replace the
/// device rather than feed it. A symbolic link is followed, so the link
/// stays and its target is replaced.
#[derive(Debug)]
pub struct Artifact {
    target: std::path::PathBuf,
    how: Via,
}

#[derive(Debug)]
enum Via {
    /// Written to `temp`, then renamed to the target.
    Rename {
        temp: std::path::PathBuf,
        file: Option<std::fs::File>,
    },
    /// Written into the existing file: a non-regular one, or a regular one
    /// in a directory where no temporary file can be made (then emptied
    /// only when the text is ready, not at open).
    InPlace { file: std::fs::File, empty_first: bool },
}

impl Artifact {
    pub fn create(path: &Path) -> std::io::Result<Artifact> {
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                let file = std::fs::OpenOptions::new().write(true).truncate(true).open(path)?;
                return Ok(Artifact {
                    target: path.to_path_buf(),
                    how: Via::InPlace {
                        file,
                        empty_first: false,
                    },
                });
            }
            _ => {}
        }
        let target = match std::fs::canonicalize(path) {
            Ok(resolved) => resolved,
            Err(_) => path.to_path_buf(),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".to_string());
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Hidden and ending in `.tmp`: a collector reading `*.prom` never
        // sees it half-written.
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let file = match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => file,
            // A writable file in a directory we may not write: in place, then.
            Err(e) => match std::fs::OpenOptions::new().write(true).open(&target) {
                Ok(file) if target.is_file() => {
                    return Ok(Artifact {
                        target,
                        how: Via::InPlace {
                            file,
                            empty_first: true,
                        },
                    });
                }
                _ => return Err(e),
            },
        };
        // The new file keeps the old one's permissions.
        if let Ok(meta) = std::fs::metadata(&target) {
            let _ = file.set_permissions(meta.permissions());
        }
        Ok(Artifact {
            target,
            how: Via::Rename { temp, file: Some(file) },
        })
    }

    /// Writes `bytes` and puts the file in place; on failure the old file,
    /// if any, is left as it was.
    pub fn commit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        match &mut self.how {
            Via::InPlace { file, empty_first } => {
                if *empty_first {
                    file.set_len(0)?;
                }
                file.write_all(bytes)?;
                file.flush()
            }
            Via::Rename { temp, file } => {
                let mut f = file
                    .take()
                    .ok_or_else(|| std::io::Error::other("the report was already written"))?;
                f.write_all(bytes)?;
                f.sync_all()?;
                drop(f);
                std::fs::rename(&*temp, &self.target)
            }
        }
    }
}

impl Drop for Artifact {
    fn drop(&mut self) {
        if let Via::Rename { temp, .. } = &self.how {
            // Gone after a successful rename; otherwise it is ours to remove.
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Where the first invalid UTF-8 byte is, as a 1-based line and column.
pub fn utf8_error_location(bytes: &[u8], err: &std::str::Utf8Error) -> (u64, u64) {
    let valid = &bytes[..err.valid_up_to()];
    let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
    // Columns count characters, as the YAML parser's do; the valid prefix is UTF-8.
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&valid[line_start..]).map_or(0, |s| s.chars().count()) + 1;
    (line as u64, column as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_read_under_the_cap_not_by_its_size() {
        let e = read_capped(Path::new("/dev/zero"), 1024, "gate files").unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("1 KiB limit for gate files"), "{e}");
    }

    #[test]
    fn a_regular_file_over_the_cap_is_refused_and_one_under_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_capped(&p, 5, "x").unwrap(), b"hello");
        assert!(matches!(read_capped(&p, 4, "x"), Err(ReadError::TooLarge { .. })));
        assert!(matches!(
            read_capped(dir.path(), 4, "x"),
            Err(ReadError::Directory { .. })
        ));
    }

    #[test]
    fn a_fifo_with_no_writer_is_given_up_and_one_with_a_writer_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (silent, fifo) = (dir.path().join("silent.fifo"), dir.path().join("gate.fifo"));
        let made = std::process::Command::new("mkfifo")
            .arg(&silent)
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // The abandoned reader stays blocked in open(2): a fresh FIFO for the second case.
        let e = read_capped_within(&silent, 1024, "gate files", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, ReadError::Stalled { .. }), "{e}");
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::write(writer_path, b"schema_version: 1\n"));
        let got = read_capped_within(&fifo, 1024, "gate files", Duration::from_secs(10)).unwrap();
        assert_eq!(got, b"schema_version: 1\n");
        writer.join().unwrap().unwrap();
    }

    #[test]
    fn invalid_utf8_is_located_by_line_and_column() {
        let bytes: Vec<u8> = b"id: G\nname: \xff\n".to_vec();
        let err = std::str::from_utf8(&bytes).unwrap_err();
        assert_eq!(utf8_error_location(&bytes, &err), (2, 7));
    }

    #[test]
    fn an_artifact_replaces_the_old_file_only_when_complete_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gate.prom");
        std::fs::write(&p, b"old").unwrap();
        let mut a = Artifact::create(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"old", "untouched until written");
        a.commit(b"new").unwrap();
        drop(a);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("gate.prom")]);

        // Dropped unwritten (the run failed): the temp file goes, the old file stays.
        let a = Artifact::create(&p).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(a);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn an_artifact_through_a_symlink_keeps_the_link_and_one_in_a_missing_dir_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.xml");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut a = Artifact::create(&link).unwrap();
        a.commit(b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert!(Artifact::create(&dir.path().join("no/such/dir/r.json")).is_err());
    }

    #[test]
    fn an_artifact_on_a_device_is_written_in_place_not_renamed_over_it() {
        let mut a = Artifact::create(Path::new("/dev/null")).unwrap();
        a.commit(b"discarded").unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "still the device");
        let mut full = Artifact::create(Path::new("/dev/full")).unwrap();
        assert!(full.commit(b"x").is_err(), "a write error is reported");
    }
}
