//! How ids and signals are named in messages.

use nix::sys::signal::Signal;

/// Ids for a message: the first, and how many more.
pub fn shown_ids(ids: &[&str]) -> String {
    match ids {
        [] => "(no ids)".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    }
}

/// `SIGTERM`, or `signal N`.
pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

