//! `xai`: the command-line front end of xai-lens. A thin shell over the `xai-model` crate: every
//! command parses its arguments, calls the library and prints; errors end in one line on stderr.

mod audit;
mod backend;
mod bench;
mod classify;
mod convert;
mod dff;
mod eval;
mod explain;
mod legend;
mod model;
mod out;
mod progress;
mod read;
mod sanity;
mod sheet;
mod target;

use std::process::ExitCode;

pub use xai_model::printable;

/// A method's name, or `all`, as --method takes it: a wrong one is a usage error that lists the
/// valid names.
pub fn method_name(arg: &str) -> Result<String, String> {
    if arg == "all" || xai_explain::method(arg).is_ok() {
        return Ok(arg.into());
    }
    Err(format!("valid: {}, or all", xai_explain::method_names().join(", ")))
}

/// A path as a line of output shows it: a file's name can hold what a terminal would obey.
pub fn shown(path: &std::path::Path) -> String {
    printable(&path_text(path))
}

/// A file's name, without its folders, as a line of output shows it.
pub fn shown_name(path: &std::path::Path) -> String {
    shown(std::path::Path::new(path.file_name().unwrap_or_default()))
}

/// A path as text, whatever its bytes: those that are not UTF-8 (a name in another system's
/// encoding) are written as `\xE9`, where `to_string_lossy` made each one '\u{FFFD}', and two
/// names one.
pub fn path_text(path: &std::path::Path) -> String {
    let mut text = String::new();
    for chunk in path.as_os_str().as_encoded_bytes().utf8_chunks() {
        text.push_str(chunk.valid());
        chunk.invalid().iter().for_each(|byte| text.push_str(&format!("\\x{byte:02X}")));
    }
    text
}

/// An error and its causes on one line, "what: why", each said once: many errors name their
/// cause in their own message too, and a decoder's message may end in a newline.
pub fn one_line(error: &anyhow::Error) -> String {
    causes_in_one_line(error.chain())
}

/// Causes, outermost first, on one line as [`one_line`] writes an error's.
pub fn causes_in_one_line<'a>(causes: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut line = String::new();
    for cause in causes {
        let text = cause.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() && !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xai",
    version,
    about = "What a ResNet sees in a photo: the built-in ImageNet ResNet-50, or your own model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Classify(classify::Args),
    Convert(convert::Args),
    Explain(explain::Args),
    Dff(dff::Args),
    Eval(eval::Args),
    Audit(audit::Args),
    Sanity(sanity::Args),
    Bench(bench::Args),
}

/// `println!` panics when stdout cannot be written (a full disk, `> /dev/full`): that is said
/// as any other error, in one line with exit 1. Other panics stay panics, which a bug is.
fn say_unwritable_output_in_one_line() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        match message.filter(|m| m.starts_with("failed printing to std")) {
            Some(message) => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "xai: {message}");
                std::process::exit(1);
            }
            None => default(info),
        }
    }));
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a closed pipe (`| head`) would fail the next `println!` with a
    // panic; by default the signal ends the process quietly, as it does other tools.
    #[cfg(unix)]
    // SAFETY: at the start of main, before any thread exists, restoring a signal's default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    say_unwritable_output_in_one_line();
    let parsed = Cli::try_parse();
    if parsed.is_err() {
        out::remove_made_folders();
    }
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        // `xai` alone: clap's error would be the whole help, which one line cuts to its title.
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let commands: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
            eprintln!("xai: give a command: {} (xai --help says what each does)", commands.join(", "));
            return ExitCode::from(2);
        }
        Err(error) => {
            // clap's first paragraph names the bad value and the valid ones; keep it to one line.
            let message = error.to_string();
            let lines: Vec<&str> = message.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            eprintln!("xai: {}", lines.join(" ").trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Classify(args) => classify::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Dff(args) => dff::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Sanity(args) => sanity::run(args),
        Command::Bench(args) => bench::run(args),
    };
    out::remove_made_folders();
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xai: {}", one_line(&error));
            if is_usage_error(&error) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// An option that only the model can refuse (a class or layer it does not have, CAM below its
/// last layer): a
/// usage error as clap's are, exit 2, though found once the model is read.
fn is_usage_error(error: &anyhow::Error) -> bool {
    use xai_explain::pipeline::CamError;
    error.chain().filter_map(|cause| cause.downcast_ref::<CamError>()).any(|error| {
        matches!(
            error,
            CamError::UnknownMethod(_)
                | CamError::Layer { .. }
                | CamError::NoLayer(_)
                | CamError::Class { .. }
                | CamError::Targets { .. }
                | CamError::NoOwnPasses(_)
                | CamError::VersusItself(_)
        )
    })
}
