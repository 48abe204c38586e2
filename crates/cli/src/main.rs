//! `sfconn`: the command-line tool. A thin layer over the library crates: argument parsing,
//! output to stdout, messages to stderr, and the contract's exit codes.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
