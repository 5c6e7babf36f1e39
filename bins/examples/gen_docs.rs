//! Writes shell completions and man pages for the three binaries, generated from their clap
//! definitions: `DIR/completions/{bash,zsh,fish,elvish,powershell}/...` and `DIR/man/*.1`.
//!
//! `cargo run -p shardkit-cli --example gen_docs -- DIR` (or `scripts/gen-docs DIR`).

use std::fs;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/docs".into()),
    );
    let commands = [
        shardkit_cli::plan::Cli::command(),
        shardkit_cli::exec::Cli::command(),
        shardkit_cli::merge::Cli::command(),
    ];
    for mut command in commands {
        let name = command.get_name().to_string();
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let out = dir.join("completions").join(shell.to_string());
            fs::create_dir_all(&out)?;
            clap_complete::generate_to(shell, &mut command, &name, &out)?;
        }
        let man = dir.join("man");
        fs::create_dir_all(&man)?;
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        fs::write(man.join(format!("{name}.1")), page)?;
    }
    eprintln!("wrote completions and man pages under {}", dir.display());
    Ok(())
}
