//! `apigee-multiregion seeds`: the seed host for `cassandra.multiRegionSeedHost`, its
//! alternates, and why each pod was or was not eligible.

use std::path::PathBuf;
use std::sync::Arc;

use apigee_multiregion_core::adapters::{DiscoverError, KubeCluster, PodsAt, seeds_from_cluster};
use apigee_multiregion_core::model::{DatacenterName, Secret};
use apigee_multiregion_core::ports::{AdminError, JmxCredentials};
use apigee_multiregion_core::seeds::SeedPolicy;
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::output::{Format, print_json, print_stdout};

/// Choose the seed host from the live ring of the existing region.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = concat!(
        "Without --jmx-user and --jmx-password-env, nodetool uses the pods' own\n",
        "APIGEE_JMX_USER and APIGEE_JMX_PASSWORD. With -q, only the seed host's address.\n",
        "\n",
        "Example (the password read into a variable, never typed on the command line):\n",
        "  read -rs JMX_PASSWORD && export JMX_PASSWORD\n",
        "  apigee-multiregion seeds --context aks-east --datacenter dc-1 \\\n",
        "    --jmx-user jmxuser --jmx-password-env JMX_PASSWORD",
    )
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
    /// Output: text (for people) or json (for scripts).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

pub fn run(args: &Args, quiet: bool) -> Result<(), CliError> {
    let credentials = match (&args.jmx_user, &args.jmx_password_env) {
        (Some(u), Some(var)) => JmxCredentials::Given {
            username: u.clone(),
            password: Secret::new(std::env::var(var).map_err(|_| {
                CliError::Input(format!(
                    "--jmx-password-env {var}: the environment variable {var} is not set; export it with the JMX password"
                ))
            })?),
        },
        _ => JmxCredentials::PodEnvironment,
    };
    let given = matches!(credentials, JmxCredentials::Given { .. });
    let selection = super::runtime()?.block_on(async {
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
        .map_err(|e| discover_failed(e, given))
    })?;
    if args.output == Format::Json {
        return print_json(&selection);
    }
    if quiet {
        return print_stdout(&format!("{}\n", selection.seed_host.address));
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

/// The seeds command has no plan and no overrides file: a JMX refusal names its own flags.
fn discover_failed(e: DiscoverError, given: bool) -> CliError {
    match e {
        DiscoverError::Ring(AdminError::JmxAuthentication { pod }) if given => CliError::Failed(format!(
            "pod {pod}: JMX refused the user of --jmx-user and the password in --jmx-password-env: check both"
        )),
        DiscoverError::Ring(AdminError::JmxAuthentication { pod }) => CliError::Failed(format!(
            "pod {pod}: JMX refused the pod's own APIGEE_JMX_USER/APIGEE_JMX_PASSWORD: give the credentials with \
             --jmx-user USER --jmx-password-env VAR (VAR: an environment variable holding the password)"
        )),
        e => CliError::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jmx_refusal_names_the_flags_not_an_overrides_file() {
        let refused =
            || DiscoverError::Ring(AdminError::JmxAuthentication { pod: "apigee-cassandra-default-0".into() });
        let text = format!("{}\n{}", discover_failed(refused(), false), discover_failed(refused(), true));
        assert!(!text.contains("overrides"), "{text}");
        insta::assert_snapshot!("seeds_jmx_refused", text);
    }
}
