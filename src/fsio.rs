//! Reads the files a user names (gate files, CA bundles, reports for
//! `diff`, expositions) under a running cap. `metadata().len()` is 0 for
//! devices and FIFOs, so the cap is enforced while reading, never trusted
//! from the size; and a pipe that never delivers is given up after a while
//! rather than waited on forever.

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
}
