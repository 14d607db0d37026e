//! One module per subcommand; each has an `Args` (clap) and a `run`.

pub mod check;
pub mod decommission;
pub mod expand;
pub mod overrides;
pub mod parse;
pub mod seeds;
