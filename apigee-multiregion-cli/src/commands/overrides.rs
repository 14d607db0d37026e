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
    #[command(after_help = SET_SEED_HELP)]
    SetSeed(SetSeed),
    /// Remove cassandra.multiRegionSeedHost (after the new region is rebuilt).
    #[command(after_help = CLEAR_SEED_HELP)]
    ClearSeed(ClearSeed),
    /// Compare the existing region's overrides with the new region's; exit 3 on errors.
    #[command(
        after_help = "Example:\n  apigee-multiregion overrides check \\\n    overrides-east.yaml overrides-west.yaml -o json"
    )]
    Check(Check),
}

/// Where the edited file goes, said in both edit commands' help.
macro_rules! edit_note {
    () => {
        concat!(
            "Without --in-place or --output-file, the edited file goes to stdout,\n",
            "passwords and other secrets included: use --in-place, or redirect it\n",
            "to a file only you can read.\n",
            "A file written over is kept first as FILE.orig (then FILE.orig.1, ...;\n",
            "a backup with the same contents is reused); stderr names the backup.\n\n",
        )
    };
}

const SET_SEED_HELP: &str = concat!(
    edit_note!(),
    "Example:\n",
    "  apigee-multiregion overrides set-seed overrides-west.yaml \\\n",
    "    --seed-host 10.1.0.4 --datacenter dc-2 --rack ra-1 --in-place",
);

const CLEAR_SEED_HELP: &str =
    concat!(edit_note!(), "Example:\n", "  apigee-multiregion overrides clear-seed overrides-west.yaml --in-place",);

/// Where an edited document goes.
#[derive(Debug, ClapArgs)]
pub struct Destination {
    /// Write the result to this file (atomically) instead of stdout.
    #[arg(long = "output-file", value_name = "OUT", conflicts_with = "in_place")]
    pub output_file: Option<PathBuf>,
    /// Replace FILE (atomically; its current contents are kept first as FILE.orig, or FILE.orig.1, ...).
    #[arg(long)]
    pub in_place: bool,
    /// `-o` is the output format on the other commands: taken here only to refuse it.
    #[arg(short = 'o', hide = true, value_name = "FORMAT")]
    pub misplaced_output: Option<String>,
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
    /// Output: text (for people) or json (for scripts).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
    /// The regions' pod networks are routable to each other (not island mode): hostNetwork is not required.
    #[arg(long)]
    pub flat_network: bool,
}

pub fn run(args: &Args, quiet: bool) -> Result<(), CliError> {
    match &args.command {
        Command::SetSeed(a) => {
            refuse_misplaced_output(&a.dest)?;
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
            emit(&a.file, &doc, &a.dest, quiet)
        }
        Command::ClearSeed(a) => {
            refuse_misplaced_output(&a.dest)?;
            let mut doc = load(&a.file)?;
            let removed = doc.clear_seed_host().map_err(|e| CliError::overrides(&a.file, &e))?;
            if !removed && !quiet {
                eprintln!("{}: no cassandra.multiRegionSeedHost to remove", a.file.display());
            }
            emit(&a.file, &doc, &a.dest, quiet)
        }
        Command::Check(a) => {
            let (s, t) = (load(&a.source)?, load(&a.target)?);
            let options = CheckOptions { island_network: !a.flat_network };
            let findings = check_pair_with(&s, &t, &options).map_err(|e| CliError::Input(e.to_string()))?;
            report(&findings, a, options, quiet)
        }
    }
}

/// `-o json` on an edit would once have written the overrides, passwords included, to a file
/// named `json`: refused before anything is read or written.
fn refuse_misplaced_output(dest: &Destination) -> Result<(), CliError> {
    match &dest.misplaced_output {
        None => Ok(()),
        Some(v) if v == "json" || v == "text" => Err(CliError::Input(format!(
            "`-o {v}`: this command writes the edited file, not a report, so it has no output format; \
             give the file to write with `--output-file FILE`, or use `--in-place`. Nothing was written."
        ))),
        Some(v) => Err(CliError::Input(format!(
            "`-o` is not accepted here (on the other commands it is the output format): to write the edited \
             file to {v}, use `--output-file {v}`. Nothing was written."
        ))),
    }
}

fn load(path: &Path) -> Result<OverridesDoc, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::read(path, &e))?;
    OverridesDoc::parse(&text).map_err(|e| CliError::overrides(path, &e))
}

/// The edited document: to stdout (the command's result, printed even with `-q`), or to a file
/// whose current contents are kept first; what was kept and written is said on stderr.
fn emit(file: &Path, doc: &OverridesDoc, dest: &Destination, quiet: bool) -> Result<(), CliError> {
    let target = if dest.in_place { Some(file.to_path_buf()) } else { dest.output_file.clone() };
    let Some(target) = target else { return print_stdout(doc.text()) };
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    if target.exists() && std::fs::read(&target).ok().as_deref() == Some(doc.text().as_bytes()) {
        say(format!("{}: already up to date; nothing written", target.display()));
        return Ok(());
    }
    if target.exists() {
        let backup = keep_original(&target).map_err(|e| CliError::write(&e))?;
        if backup.written {
            say(format!("{}: kept its current contents as {}", target.display(), backup.path.display()));
        } else {
            say(format!(
                "{}: its current contents are already kept in {}; no new backup",
                target.display(),
                backup.path.display()
            ));
        }
    }
    write_atomic(&target, doc.text().as_bytes(), None).map_err(|e| CliError::write(&e))?;
    say(format!("wrote {}", target.display()));
    Ok(())
}

/// Findings are the result (printed even with `-q`); the summary line is not.
fn report(findings: &[Finding], a: &Check, options: CheckOptions, quiet: bool) -> Result<(), CliError> {
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
            if !quiet {
                out.push_str(&format!("{errors} error(s), {} warning(s) ({mode})\n", findings.len() - errors));
            }
            print_stdout(&out)?;
        }
    }
    if errors > 0 {
        return Err(CliError::Refused(format!("{errors} error(s) in the overrides pair: fix them before expanding")));
    }
    Ok(())
}
