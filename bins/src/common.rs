//! Small helpers every binary uses: the process environment as the library reads it, and the
//! plural ending of English words.

/// The environment variable `name` as text (lossily, when it is not UTF-8); `None` when it
/// is not set.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// `"s"` after a count other than one: `format!("{n} test{}", plural(n))`.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(plural(1), "");
        assert_eq!(plural(0), "s");
        assert_eq!(plural(2), "s");
    }

    #[test]
    fn an_unset_variable_is_none() {
        assert_eq!(env("SHARDKIT_CLI_TEST_SURELY_UNSET_VARIABLE"), None);
    }
}
