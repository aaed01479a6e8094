//! CPU-heavy work of a probe (parsing a 16 MiB exposition, a large YAML
//! config) moved off the runtime thread. `check` runs every probe on one
//! current-thread runtime, so a parse done inline would hold up every other
//! check's timers until it ends; on the blocking pool it only costs its own
//! check's time.

use std::any::Any;

/// Why work sent to the blocking pool brought back no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OffThreadError {
    #[error("internal error: the parse panicked ({0}); this is a bug in medianest-gate")]
    Panicked(String),
    #[error("internal error: the parse was cancelled as the run shut down")]
    Cancelled,
}

/// Runs `work` on the runtime's blocking pool and waits for it without
/// holding the runtime thread. A panic inside `work` comes back as
/// [`OffThreadError::Panicked`] with its message, for the caller to turn
/// into its check's `error`.
pub(crate) async fn off_runtime<T, F>(work: F) -> Result<T, OffThreadError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => Err(OffThreadError::Panicked(panic_message(e.into_panic().as_ref()))),
        Err(_) => Err(OffThreadError::Cancelled),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_comes_back_as_an_error_with_its_message() {
        let got = off_runtime(|| -> u32 {
            let v: Vec<u32> = Vec::new();
            if v.is_empty() {
                panic!("bad body");
            }
            1
        })
        .await;
        match got {
            Err(OffThreadError::Panicked(m)) => assert_eq!(m, "bad body"),
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert_eq!(off_runtime(|| 7).await.ok(), Some(7));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn timers_keep_running_while_the_work_does() {
        // The work blocks its thread for 600 ms; a 50 ms timer on the runtime
        // thread must still fire on time.
        let started = Instant::now();
        let work = off_runtime(|| std::thread::sleep(Duration::from_millis(600)));
        let timer = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            started.elapsed()
        };
        let (done, fired) = tokio::join!(work, timer);
        assert!(done.is_ok());
        assert!(fired < Duration::from_millis(450), "the timer fired after {fired:?}");
    }
}
