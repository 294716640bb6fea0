//! The `oddity` command line: train, evaluate, score and report anomaly detectors.

mod cli;

fn main() {
    if let Err(error) = cli::run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
