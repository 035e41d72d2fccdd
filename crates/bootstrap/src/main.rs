//! notification-hub binary.
//!
//! This build contains the domain and the application core only. The command line already has
//! the shape of SPEC §2 (`serve` by default, `migrate`, `config`) so scripts and `make run` can
//! rely on it, but each subcommand only says that its implementation arrives with the
//! embedded-runtime issue. Only `std` is used until then (no clap yet).

use std::process::ExitCode;

/// Binary name, as the user types it.
const NAME: &str = "notification-hub";
/// Crate version, from the workspace.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// `serve`, also when no subcommand is given (SPEC §2).
    Serve,
    /// `migrate`: apply database migrations.
    Migrate,
    /// `config`: print the effective configuration with secrets masked.
    Config,
    /// `help`, `--help`, `-h`.
    Help,
    /// `--version`, `-V`, `version`.
    Version,
}

/// The command line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UsageError(String);

/// What the process writes and how it exits, kept apart from the printing so it can be tested.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: u8,
}

/// Exit code for a command line that could not be parsed (the usual convention for usage errors).
const USAGE_EXIT_CODE: u8 = 2;

fn parse_args<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<S> = args.into_iter().collect();
    let mut words = args.iter().map(AsRef::as_ref);
    let command = match words.next() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some("config") => Command::Config,
        Some("help" | "--help" | "-h") => Command::Help,
        Some("version" | "--version" | "-V") => Command::Version,
        Some(other) => return Err(UsageError(format!("unknown command or option `{other}`"))),
    };
    // Options such as `--config` arrive with the configuration issue; accepting and ignoring
    // them now would make a typo look like it worked.
    if let Some(extra) = words.next() {
        return Err(UsageError(format!("unexpected argument `{extra}`")));
    }
    Ok(command)
}

fn usage() -> String {
    format!(
        "{NAME} {VERSION} — multi-channel notification hub\n\
         \n\
         Usage: {NAME} [COMMAND]\n\
         \n\
         Commands:\n  \
           serve     run the API, outbox relay and channel workers (default)\n  \
           migrate   apply database migrations\n  \
           config    print the effective configuration with secrets masked\n  \
           help      print this help\n\
         \n\
         Options:\n  \
           -h, --help       print this help\n  \
           -V, --version    print the version\n\
         \n\
         This build contains the domain and application core only; serve, migrate and config\n\
         arrive with the embedded-runtime issue.\n"
    )
}

/// The sentence every not-yet-implemented subcommand prints: what is missing and when it comes.
fn not_yet(what: &str, consequence: &str) -> String {
    format!(
        "{NAME} {VERSION}: this build contains the domain and application core only; \
         {what} arrives with the embedded-runtime issue. {consequence}\n"
    )
}

fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let ok_out = |stdout: String| Outcome { stdout, stderr: String::new(), code: 0 };
    // The not-yet-implemented subcommands exit 0: there is nothing to serve, migrate or print
    // yet, and `make run` must not look like a crash. The message goes to stderr so a script
    // capturing stdout (e.g. `config > effective.toml`) does not mistake it for output.
    let ok_err = |stderr: String| Outcome { stdout: String::new(), stderr, code: 0 };
    match parse_args(args) {
        Ok(Command::Serve) => ok_err(not_yet("the HTTP server (`serve`)", "Nothing was started.")),
        Ok(Command::Migrate) => {
            ok_err(not_yet("`migrate`", "There are no migrations yet; nothing was changed."))
        }
        Ok(Command::Config) => ok_err(not_yet("`config`", "There is no configuration to print yet.")),
        Ok(Command::Help) => ok_out(usage()),
        Ok(Command::Version) => ok_out(format!("{NAME} {VERSION}\n")),
        Err(UsageError(message)) => Outcome {
            stdout: String::new(),
            stderr: format!("{NAME}: {message}\n\n{}", usage()),
            code: USAGE_EXIT_CODE,
        },
    }
}

// A command-line program talks to its user through stdout and stderr; the workspace warns on
// printing so that services log through `tracing` instead, which does not apply here.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let outcome = run(std::env::args().skip(1));
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    ExitCode::from(outcome.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_arguments_means_serve() {
        assert_eq!(parse_args(Vec::<String>::new()), Ok(Command::Serve));
    }

    #[test]
    fn every_documented_command_is_recognised() {
        let cases = [
            ("serve", Command::Serve),
            ("migrate", Command::Migrate),
            ("config", Command::Config),
            ("help", Command::Help),
            ("--help", Command::Help),
            ("-h", Command::Help),
            ("version", Command::Version),
            ("--version", Command::Version),
            ("-V", Command::Version),
        ];
        for (arg, expected) in cases {
            assert_eq!(parse_args([arg]), Ok(expected), "argument {arg:?}");
        }
    }

    #[test]
    fn unknown_command_is_a_usage_error_with_exit_code_2() {
        let outcome = run(["frobnicate"]);
        assert_eq!(outcome.code, USAGE_EXIT_CODE);
        assert!(outcome.stderr.contains("unknown command or option `frobnicate`"), "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty());
    }

    #[test]
    fn extra_arguments_are_rejected_rather_than_ignored() {
        let outcome = run(["serve", "--config", "x.toml"]);
        assert_eq!(outcome.code, USAGE_EXIT_CODE);
        assert!(outcome.stderr.contains("unexpected argument `--config`"), "{}", outcome.stderr);
    }

    #[test]
    fn default_run_explains_what_is_missing_on_stderr_and_exits_zero() {
        let outcome = run(Vec::<String>::new());
        assert_eq!(outcome.code, 0);
        assert!(outcome.stdout.is_empty());
        assert!(outcome.stderr.contains("domain and application core only"), "{}", outcome.stderr);
        assert!(outcome.stderr.contains("embedded-runtime issue"), "{}", outcome.stderr);
    }

    #[test]
    fn version_prints_name_and_crate_version() {
        let outcome = run(["--version"]);
        assert_eq!(outcome.code, 0);
        assert_eq!(outcome.stdout, format!("notification-hub {}\n", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn help_lists_every_subcommand() {
        let outcome = run(["help"]);
        assert_eq!(outcome.code, 0);
        for command in ["serve", "migrate", "config"] {
            assert!(outcome.stdout.contains(command), "help does not mention {command}");
        }
    }
}
