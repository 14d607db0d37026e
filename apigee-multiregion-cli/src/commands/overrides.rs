//! `apigee-multiregion overrides set-seed|clear-seed|check`: lossless edits of an overrides file
//! and the cross-region pair check.

use std::path::{Path, PathBuf};

use apigee_multiregion_core::atomic_file::{keep_original, write_atomic};
use apigee_multiregion_core::model::{DatacenterName, RackName};
use apigee_multiregion_core::overrides::{CheckOptions, Finding, OverridesDoc, Severity, check_pair_with};
use clap::{Args as ClapArgs, Subcommand};

use crate::error::CliError;
use crate::output::{Format, print_json, print_stdout};

/// Edit or check Apigee hybrid overrides files without losing a comment, a key order or a quote.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set cassandra.multiRegionSeedHost (and optionally datacenter, rack, hostNetwork).
    #[command(
        after_help = "Example:\n  apigee-multiregion overrides set-seed overrides-west.yaml --seed-host 10.1.0.4 --datacenter dc-2 --rack ra-1 --in-place"
    )]
    SetSeed(SetSeed),
    /// Remove cassandra.multiRegionSeedHost (after the new region is rebuilt).
    #[command(after_help = "Example:\n  apigee-multiregion overrides clear-seed overrides-west.yaml --in-place")]
    ClearSeed(ClearSeed),
    /// Compare the existing region's overrides with the new region's; exit 3 on errors.
    #[command(
        after_help = "Example:\n  apigee-multiregion overrides check overrides-east.yaml overrides-west.yaml -o json"
    )]
    Check(Check),
}

/// Where an edited document goes.
#[derive(Debug, ClapArgs)]
pub struct Destination {
    /// Write the result to this file (atomically) instead of stdout.
    #[arg(short = 'o', long = "output-file", value_name = "OUT", conflicts_with = "in_place")]
    pub output_file: Option<PathBuf>,
    /// Replace FILE (atomically; the original is kept as FILE.orig).
    #[arg(long)]
    pub in_place: bool,
}

#[derive(Debug, ClapArgs)]
pub struct SetSeed {
    /// The new region's overrides file.
    pub file: PathBuf,
    /// Address of a Cassandra node of the existing region (see `apigee-multiregion seeds`).
    #[arg(long, value_name = "IP")]
    pub seed_host: String,
    /// The new region's datacenter name (must differ from every existing one).
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<DatacenterName>,
    /// The new region's rack name.
    #[arg(long, value_name = "RACK")]
    pub rack: Option<RackName>,
    /// Set cassandra.hostNetwork (island network mode needs true).
    #[arg(long, value_name = "BOOL")]
    pub host_network: Option<bool>,
    #[command(flatten)]
    pub dest: Destination,
}

#[derive(Debug, ClapArgs)]
pub struct ClearSeed {
    /// The overrides file.
    pub file: PathBuf,
    #[command(flatten)]
    pub dest: Destination,
}

#[derive(Debug, ClapArgs)]
pub struct Check {
    /// The existing (source) region's overrides file.
    pub source: PathBuf,
    /// The new (target) region's overrides file.
    pub target: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
    /// The regions' pod networks are routable to each other (not island mode): hostNetwork is not required.
    #[arg(long)]
    pub flat_network: bool,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    match &args.command {
        Command::SetSeed(a) => {
            let mut doc = load(&a.file)?;
            let fail = |e| CliError::overrides(&a.file, &e);
            doc.set_seed_host(&a.seed_host).map_err(fail)?;
            if let Some(dc) = &a.datacenter {
                doc.set_datacenter(dc).map_err(fail)?;
            }
            if let Some(rack) = &a.rack {
                doc.set_rack(rack).map_err(fail)?;
            }
            if let Some(on) = a.host_network {
                doc.set_host_network(on).map_err(fail)?;
            }
            emit(&a.file, &doc, &a.dest)
        }
        Command::ClearSeed(a) => {
            let mut doc = load(&a.file)?;
            let removed = doc.clear_seed_host().map_err(|e| CliError::overrides(&a.file, &e))?;
            if !removed {
                eprintln!("{}: no cassandra.multiRegionSeedHost to remove", a.file.display());
            }
            emit(&a.file, &doc, &a.dest)
        }
        Command::Check(a) => {
            let (s, t) = (load(&a.source)?, load(&a.target)?);
            let options = CheckOptions { island_network: !a.flat_network };
            let findings = check_pair_with(&s, &t, &options).map_err(|e| CliError::Input(e.to_string()))?;
            report(&findings, a, options)
        }
    }
}

fn load(path: &Path) -> Result<OverridesDoc, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::read(path, &e))?;
    OverridesDoc::parse(&text).map_err(|e| CliError::overrides(path, &e))
}

fn emit(file: &Path, doc: &OverridesDoc, dest: &Destination) -> Result<(), CliError> {
    let target = if dest.in_place { Some(file.to_path_buf()) } else { dest.output_file.clone() };
    let Some(target) = target else { return print_stdout(doc.text()) };
    if target.exists() && std::fs::read(&target).ok().as_deref() == Some(doc.text().as_bytes()) {
        eprintln!("{}: already up to date", target.display());
        return Ok(());
    }
    if target.exists() {
        let backup = keep_original(&target).map_err(|e| CliError::write(&e))?;
        eprintln!("kept the original as {}", backup.display());
    }
    write_atomic(&target, doc.text().as_bytes(), None).map_err(|e| CliError::write(&e))?;
    eprintln!("wrote {}", target.display());
    Ok(())
}

fn report(findings: &[Finding], a: &Check, options: CheckOptions) -> Result<(), CliError> {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    match a.output {
        Format::Json => print_json(&serde_json::json!({ "findings": findings }))?,
        Format::Text => {
            let mut out = String::new();
            for f in findings {
                let file = match f.side {
                    apigee_multiregion_core::overrides::Side::Source => &a.source,
                    apigee_multiregion_core::overrides::Side::Target => &a.target,
                };
                let place = match f.line {
                    Some(l) => format!("{}:{l}", file.display()),
                    None => file.display().to_string(),
                };
                let sev = if f.severity == Severity::Error { "error" } else { "warning" };
                out.push_str(&format!("{sev}[{}]: {place}: {}: {}\n", f.code, f.path, f.message));
            }
            let mode = if options.island_network { "island network" } else { "flat network" };
            out.push_str(&format!("{errors} error(s), {} warning(s) ({mode})\n", findings.len() - errors));
            print_stdout(&out)?;
        }
    }
    if errors > 0 {
        return Err(CliError::Refused(format!("{errors} error(s) in the overrides pair: fix them before expanding")));
    }
    Ok(())
}
