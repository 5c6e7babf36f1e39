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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_show_the_first_and_how_many_more() {
        assert_eq!(shown_ids(&[]), "(no ids)");
        assert_eq!(shown_ids(&["a"]), "a");
        assert_eq!(shown_ids(&["a", "b", "c"]), "a and 2 more");
    }

    #[test]
    fn signals_go_by_their_names_and_unknown_ones_by_number() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(1000), "signal 1000");
    }
}
