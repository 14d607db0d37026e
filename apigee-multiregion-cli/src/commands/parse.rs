//! `apigee-multiregion parse status|netstats|describecluster|rebuild-log`: nodetool output (or a
//! Cassandra log) on stdin, JSON on stdout.

use std::io::Read;

use apigee_multiregion_core::nodetool;
use clap::{Args as ClapArgs, ValueEnum};

use crate::error::CliError;
use crate::output::print_json;

/// What the input is.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// `nodetool status`
    Status,
    /// `nodetool netstats`
    Netstats,
    /// `nodetool describecluster`
    Describecluster,
    /// A Cassandra log (`kubectl logs` of a Cassandra pod): rebuild and streaming events
    RebuildLog,
}

/// Parse nodetool output from stdin and print it as JSON.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = concat!(
        "Examples:\n",
        "  apigee-multiregion parse netstats < netstats.txt\n",
        "\n",
        "  # With the pod's JMX credentials, through a password file:\n",
        "  kubectl -n apigee exec apigee-cassandra-default-0 -- sh -c \\\n",
        "    'f=$(mktemp) && echo \"$APIGEE_JMX_USER $APIGEE_JMX_PASSWORD\" > \"$f\" &&\n",
        "     nodetool -u \"$APIGEE_JMX_USER\" -pwf \"$f\" status; rm -f \"$f\"' \\\n",
        "    | apigee-multiregion parse status",
    )
)]
pub struct Args {
    /// What stdin holds.
    #[arg(value_enum)]
    pub kind: Kind,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).map_err(|e| CliError::Input(format!("cannot read stdin: {e}")))?;
    let bad = |e: nodetool::ParseError| CliError::Input(format!("stdin: {e}"));
    match args.kind {
        Kind::Status => print_json(&nodetool::parse_status(&input).map_err(bad)?),
        Kind::Netstats => print_json(&nodetool::parse_netstats(&input).map_err(bad)?),
        Kind::Describecluster => print_json(&nodetool::parse_describecluster(&input).map_err(bad)?),
        Kind::RebuildLog => print_json(&serde_json::json!({ "events": nodetool::scan_rebuild_log(&input) })),
    }
}
