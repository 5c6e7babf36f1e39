//! Exit codes shared by every shardkit binary.

/// How a shardkit binary ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Success = 0,
    /// Done, and some tests failed or errored.
    TestsFailed = 1,
    /// Bad usage or bad input: nothing was written.
    Usage = 2,
    /// Done, but the result is not what was expected: a test or node missing, twice, or not
    /// planned, or an input salvaged (shard-merge); the setup failed or the report could not
    /// be written (shard-exec).
    Unverified = 3,
    /// Stopped by SIGHUP (128 + 1).
    Hangup = 129,
    /// Stopped by SIGINT (128 + 2).
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15).
    Terminated = 143,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
