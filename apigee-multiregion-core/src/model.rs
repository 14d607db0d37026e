//! Plain domain values shared by every layer: validated names, Cassandra pods as Kubernetes
//! reports them, and seed hosts.
//!
//! This module does no I/O. Names are validated once, at construction, so the rest of the code
//! can rely on them (a `DatacenterName` never contains a space or a quote).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Why a datacenter or rack name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name was empty.
    #[error("{kind} name is empty: give a name such as `{example}`")]
    Empty {
        /// `datacenter` or `rack`.
        kind: &'static str,
        /// An example of a valid name.
        example: &'static str,
    },
    /// The name had a character Cassandra's snitch files and Apigee's overrides do not accept.
    #[error(
        "{kind} name `{name}` has the character {ch:?}: use letters, digits, `-`, `_` and `.` only (for example `{example}`)"
    )]
    BadChar {
        /// `datacenter` or `rack`.
        kind: &'static str,
        /// The refused name.
        name: String,
        /// The first refused character.
        ch: char,
        /// An example of a valid name.
        example: &'static str,
    },
    /// The name was longer than 64 characters.
    #[error("{kind} name `{name}` is longer than 64 characters")]
    TooLong {
        /// `datacenter` or `rack`.
        kind: &'static str,
        /// The refused name.
        name: String,
    },
}

fn validate_name(kind: &'static str, example: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind, example });
    }
    if name.chars().count() > 64 {
        return Err(NameError::TooLong { kind, name: name.to_owned() });
    }
    if let Some(ch) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(NameError::BadChar { kind, name: name.to_owned(), ch, example });
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Validates and wraps a name.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                validate_name($kind, $example, &name)?;
                Ok(Self(name))
            }

            /// The name as Cassandra prints it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

name_type!(
    /// A Cassandra datacenter name (`cassandra.datacenter` in the overrides, `dc-1` by default).
    DatacenterName,
    "datacenter",
    "dc-2"
);
name_type!(
    /// A Cassandra rack name (`cassandra.rack` in the overrides, `ra-1` by default).
    RackName,
    "rack",
    "ra-1"
);

impl Default for RackName {
    /// Apigee's default rack, `ra-1`.
    fn default() -> Self {
        Self("ra-1".to_owned())
    }
}

/// The phase Kubernetes reports for a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum PodPhase {
    /// Accepted, containers not all created yet.
    Pending,
    /// Bound to a node, at least one container running.
    Running,
    /// All containers terminated successfully.
    Succeeded,
    /// All containers terminated, at least one in failure.
    Failed,
    /// The state could not be obtained.
    Unknown,
}

impl PodPhase {
    /// Maps Kubernetes' phase string; anything unexpected is `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "Pending" => Self::Pending,
            "Running" => Self::Running,
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for PodPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Unknown => "Unknown",
        };
        f.write_str(s)
    }
}

/// One Cassandra pod with the facts that seed selection and the engine need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CassandraPod {
    /// Pod name, e.g. `apigee-cassandra-default-0`.
    pub name: String,
    /// StatefulSet ordinal parsed from the name's numeric suffix, when there is one.
    pub ordinal: Option<u32>,
    /// `status.podIP`.
    pub pod_ip: Option<IpAddr>,
    /// `status.hostIP`.
    pub host_ip: Option<IpAddr>,
    /// `spec.nodeName`.
    pub node_name: Option<String>,
    /// `status.phase`.
    pub phase: PodPhase,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// Rack from the pod's labels, when the installer sets one.
    pub rack: Option<String>,
    /// Changes whenever the Cassandra container (re)starts: the pod's uid with the container's
    /// restart count and start time. Finalize waits for every pod's to change after its apply.
    #[serde(default)]
    pub incarnation: Option<String>,
}

impl CassandraPod {
    /// The ordinal of a StatefulSet pod name (`apigee-cassandra-default-2` gives 2).
    pub fn ordinal_of(name: &str) -> Option<u32> {
        name.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
    }

    /// The address other Cassandra nodes reach this pod on: the node IP with hostNetwork
    /// (where pod IP and node IP are the same), else the pod IP.
    pub fn cassandra_address(&self) -> Option<IpAddr> {
        if self.host_network { self.host_ip.or(self.pod_ip) } else { self.pod_ip }
    }
}

/// A seed host chosen for `cassandra.multiRegionSeedHost`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedHost {
    /// The address to write into the target overrides.
    pub address: IpAddr,
    /// The pod it belongs to.
    pub pod: String,
    /// The Kubernetes node the pod runs on.
    pub node_name: Option<String>,
    /// The pod's rack (from the ring when known, else from its labels).
    pub rack: Option<String>,
}

/// A string that must never be printed: passwords read from an overrides file or a secret.
/// `Debug` and `Display` show `<redacted>`; the value is reachable only through [`Secret::expose`].
/// Its memory is overwritten with zeros when it is dropped (`zeroize`), so a password does not
/// linger in freed heap memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// A secret from secret bytes (a Kubernetes secret's value) that must be text, such as a
    /// password. Fails, without showing the bytes, when they are not UTF-8.
    pub fn from_utf8(bytes: &SecretBytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(bytes.expose()).map(Self::new)
    }

    /// The value itself, for the one place that must hand it to a process or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret bytes, exactly as a Kubernetes secret holds them (key material need not be text).
/// Never printed (`Debug` and `Display` show `<redacted>`), compared byte by
/// byte, and overwritten with zeros when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps secret bytes (taking ownership: no copy is left behind).
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The bytes themselves, for the one place that must hand them to the API or compare them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_apigee_default_names() {
        assert_eq!(DatacenterName::new("dc-1").map(|d| d.to_string()), Ok("dc-1".to_owned()));
        assert!(RackName::new("ra-1").is_ok());
    }

    #[test]
    fn refuses_names_with_spaces_or_quotes_and_says_which_character() {
        let err = DatacenterName::new("dc 2").unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
        assert!(matches!(DatacenterName::new(""), Err(NameError::Empty { .. })));
        assert!(matches!(RackName::new("a".repeat(65)), Err(NameError::TooLong { .. })));
    }

    /// Every type that holds a secret, printed with `{:?}`, `{:#?}` and (where it has one) `{}`:
    /// the secret never shows, in plain text, in bytes or in base64.
    #[test]
    fn no_secret_holding_type_prints_its_secret() {
        use crate::overrides::OverridesDoc;
        use crate::ports::{ExecArg, JmxCredentials, SanitizedObject};
        const PW: &str = "Pa55-w0rd-xyz";
        let bytes: &[u8] = b"\xff\xfeKEY-MATERIAL-\x00\xc3";
        let leaks = |shown: &str| {
            shown.contains(PW)
                || shown.contains("KEY-MATERIAL")
                || shown.contains("255, 254")
                || shown.contains("UGE1NS13MHJkLXh5eg") // base64 of PW
        };
        let secret = Secret::new(PW);
        let secret_bytes = SecretBytes::new(bytes);
        let jmx = JmxCredentials::Given { username: "jmxuser".into(), password: secret.clone() };
        let arg = ExecArg::Secret(secret.clone());
        let object = SanitizedObject {
            api_version: "v1".into(),
            kind: "Secret".into(),
            name: "apigee-ca".into(),
            namespace: Some("cert-manager".into()),
            labels: Default::default(),
            annotations: Default::default(),
            secret_type: Some("kubernetes.io/tls".into()),
            data: [("tls.key".to_owned(), secret_bytes.clone())].into(),
        };
        let doc = OverridesDoc::parse(&format!(
            "cassandra:\n  auth:\n    jmx:\n      username: jmxuser\n      password: {PW}\n"
        ))
        .expect("valid overrides");
        let view = doc.view().expect("valid view");
        let credential = view.cassandra.auth.users["jmx"].clone();
        assert_eq!(credential.password.as_ref().map(Secret::expose), Some(PW), "the test holds the secret");
        let mut shown = vec![
            format!("{secret:?} {secret:#?} {secret}"),
            format!("{secret_bytes:?} {secret_bytes:#?} {secret_bytes}"),
            format!("{jmx:?} {jmx:#?}"),
            format!("{arg:?} {arg:#?} {}", arg.shown()),
            format!("{object:?} {object:#?}"),
            format!("{doc:?} {doc:#?}"),
            format!("{view:?} {view:#?}"),
            format!("{credential:?} {credential:#?}"),
        ];
        #[cfg(feature = "kube")]
        {
            let redactor = crate::adapters::redact::Redactor::new([secret.clone()]);
            let mut apigeectl = crate::adapters::Apigeectl::new("apigeectl".into(), "region-2");
            apigeectl.redactor = redactor.clone();
            shown.push(format!("{redactor:?} {redactor:#?}"));
            shown.push(format!("{apigeectl:?} {apigeectl:#?}"));
            let (_, stdin) = crate::adapters::exec_argv(std::slice::from_ref(&arg)).expect("one-line secret");
            let stdin = stdin.expect("a secret goes on stdin");
            shown.push(format!("{stdin:?} {stdin:#?} {stdin}"));
        }
        for s in &shown {
            assert!(!leaks(s), "a secret shows in: {s}");
        }
    }

    #[test]
    fn ordinal_comes_from_the_statefulset_suffix() {
        assert_eq!(CassandraPod::ordinal_of("apigee-cassandra-default-12"), Some(12));
        assert_eq!(CassandraPod::ordinal_of("cassandra"), None);
    }
}
