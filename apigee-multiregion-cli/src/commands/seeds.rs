//! `apigee-multiregion seeds`: the seed host for `cassandra.multiRegionSeedHost`, its
//! alternates, and why each pod was or was not eligible.

use std::path::PathBuf;
use std::sync::Arc;

use apigee_multiregion_core::adapters::{KubeCluster, PodsAt, seeds_from_cluster};
use apigee_multiregion_core::model::{DatacenterName, Secret};
use apigee_multiregion_core::ports::JmxCredentials;
use apigee_multiregion_core::seeds::SeedPolicy;
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::output::{Format, print_json, print_stdout};

/// Choose the seed host from the live ring of the existing region.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example:\n  JMX_PASSWORD=... apigee-multiregion seeds --context aks-east --datacenter dc-1 --jmx-user jmxuser --jmx-password-env JMX_PASSWORD"
)]
pub struct Args {
    /// kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context of the existing region (default: the current context).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Apigee's namespace.
    #[arg(short = 'n', long, default_value = "apigee")]
    pub namespace: String,
    /// The source datacenter: pods the ring puts elsewhere are not eligible.
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<DatacenterName>,
    /// How many seeds to list (the seed host and alternates).
    #[arg(long, default_value_t = 3)]
    pub count: usize,
    /// JMX user for nodetool.
    #[arg(long, value_name = "USER", requires = "jmx_password_env")]
    pub jmx_user: Option<String>,
    /// Environment variable holding the JMX password (never pass it on the command line).
    #[arg(long, value_name = "VAR")]
    pub jmx_password_env: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let credentials = match (&args.jmx_user, &args.jmx_password_env) {
        (Some(u), Some(var)) => JmxCredentials::Given {
            username: u.clone(),
            password: Secret::new(
                std::env::var(var).map_err(|_| CliError::Input(format!("environment variable {var} is not set")))?,
            ),
        },
        _ => JmxCredentials::PodEnvironment,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let selection = runtime.block_on(async {
        let cluster = KubeCluster::connect(args.kubeconfig.as_deref(), args.context.as_deref())
            .await
            .map_err(|e| CliError::Input(e.to_string()))?;
        let policy = SeedPolicy { source_dc: args.datacenter.clone(), count: args.count };
        seeds_from_cluster(
            Arc::new(cluster),
            &PodsAt { namespace: args.namespace.clone(), ..Default::default() },
            credentials,
            &policy,
        )
        .await
        .map_err(CliError::Failed)
    })?;
    if args.output == Format::Json {
        return print_json(&selection);
    }
    let mut out = format!("seed host: {} ({})\n", selection.seed_host.address, selection.seed_host.pod);
    for a in &selection.alternates {
        out.push_str(&format!("alternate: {} ({})\n", a.address, a.pod));
    }
    for v in &selection.verdicts {
        match &v.ineligible {
            None => out.push_str(&format!("  {}: eligible\n", v.pod)),
            Some(why) => out.push_str(&format!("  {}: not eligible: {why}\n", v.pod)),
        }
    }
    print_stdout(&out)
}
