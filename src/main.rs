//! The `ferry` binary: a thin shell around [`ferry::cli`].

fn main() -> std::process::ExitCode {
    ferry::cli::main()
}
