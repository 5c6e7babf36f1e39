//! The command line's budget: how many bytes of ids one batch's command line may take on
//! this system, and what an id costs of it.

/// The bytes one id takes on a command line: its own, its NUL and its pointer in argv, or
/// the `test(=…) | ` around it when the ids are joined into one argument.
pub fn id_bytes(id: &str) -> usize {
    id.len() + 16
}

/// The most bytes of ids for one command line on this system: half of what a new program's
/// arguments and environment may take (`ARG_MAX`, 2 MiB on Linux with the usual 8 MiB
/// stack), less this process's environment; and when the ids are joined into one argument
/// (`{filterset}`, `{go-run}`), below Linux's limit on one argument (128 KiB).
pub fn command_line_budget(joined: bool) -> usize {
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|v| usize::try_from(v).ok());
    let environment = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + 8)
        .sum();
    budget(arg_max, environment, joined)
}

/// [`command_line_budget`] given `ARG_MAX` (none: no limit) and the environment's bytes.
fn budget(arg_max: Option<usize>, environment: usize, joined: bool) -> usize {
    const FLOOR: usize = 16 * 1024;
    const ONE_ARGUMENT: usize = 96 * 1024;
    let whole = arg_max.unwrap_or(4 * 1024 * 1024);
    let half = (whole.saturating_sub(environment) / 2).max(FLOOR);
    if joined { half.min(ONE_ARGUMENT) } else { half }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_budget_is_half_of_what_the_system_allows() {
        // Linux with an 8 MiB stack, 10 KiB of environment: about 1 MiB of ids.
        assert_eq!(
            budget(Some(2 << 20), 10 << 10, false),
            ((2 << 20) - (10 << 10)) >> 1
        );
        // Joined into one argument: below 128 KiB.
        assert_eq!(budget(Some(2 << 20), 10 << 10, true), 96 << 10);
        // An environment larger than the limit leaves the floor; no limit, 2 MiB.
        assert_eq!(budget(Some(64 << 10), 1 << 20, false), 16 << 10);
        assert_eq!(budget(None, 0, false), 2 << 20);
        assert!(command_line_budget(false) >= command_line_budget(true));
    }
}
