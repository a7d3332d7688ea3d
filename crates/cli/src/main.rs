//! `xai`: the command-line front end of xai-lens. A thin shell over the `xai-model` crate: every
//! command parses its arguments, calls the library and prints; errors end in one line on stderr.

mod backend;
mod classify;
mod convert;
mod model;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xai", version, about = "What a real ImageNet ResNet-50 sees in a photo")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Classify(classify::Args),
    Convert(convert::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify::run(args),
        Command::Convert(args) => convert::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` joins the context chain into one line: "what: why".
            eprintln!("xai: {error:#}");
            ExitCode::FAILURE
        }
    }
}
