//! The typed read view of an overrides file: only the keys an expansion needs, read through
//! `yaml_serde` with merge keys (`<<: *anchor`) applied.

use std::collections::BTreeMap;

use serde::Serialize;
use yaml_serde::Value;

use super::OverridesError;
use crate::model::Secret;

/// Apigee's default `cassandra.clusterName`.
pub const DEFAULT_CLUSTER_NAME: &str = "apigeecluster";
/// Apigee's default `cassandra.datacenter`.
pub const DEFAULT_DATACENTER: &str = "dc-1";
/// Apigee's default `cassandra.rack`.
pub const DEFAULT_RACK: &str = "ra-1";

/// What an expansion reads from an overrides file.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct OverridesView {
    /// `instanceID`.
    pub instance_id: Option<String>,
    /// `org`.
    pub org: Option<String>,
    /// `k8sCluster.name`.
    pub k8s_cluster_name: Option<String>,
    /// `k8sCluster.region`.
    pub k8s_cluster_region: Option<String>,
    /// The `cassandra` section.
    pub cassandra: CassandraView,
    /// `virtualhosts[]`.
    pub virtualhosts: Vec<VirtualHost>,
}

/// The `cassandra` section. `None` means the key is absent (Apigee's default applies).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CassandraView {
    /// `cassandra.datacenter`.
    pub datacenter: Option<String>,
    /// `cassandra.rack`.
    pub rack: Option<String>,
    /// `cassandra.hostNetwork`.
    pub host_network: Option<bool>,
    /// `cassandra.clusterName`.
    pub cluster_name: Option<String>,
    /// `cassandra.multiRegionSeedHost`.
    pub multi_region_seed_host: Option<String>,
    /// `cassandra.replicaCount`.
    pub replica_count: Option<u64>,
    /// `cassandra.auth`.
    pub auth: CassandraAuth,
    /// The node label Cassandra's pods are placed by: `cassandra.nodeSelector.{key,value}`, else
    /// the top-level `nodeSelector.apigeeData.{key,value}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<(String, String)>,
    /// `cassandra.image.url` and `cassandra.image.tag` as `url:tag` (both set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl CassandraView {
    /// The datacenter Apigee will use (`dc-1` when absent).
    pub fn effective_datacenter(&self) -> &str {
        self.datacenter.as_deref().unwrap_or(DEFAULT_DATACENTER)
    }
    /// The rack Apigee will use (`ra-1` when absent).
    pub fn effective_rack(&self) -> &str {
        self.rack.as_deref().unwrap_or(DEFAULT_RACK)
    }
    /// The cluster name Apigee will use (`apigeecluster` when absent).
    pub fn effective_cluster_name(&self) -> &str {
        self.cluster_name.as_deref().unwrap_or(DEFAULT_CLUSTER_NAME)
    }
}

/// `cassandra.auth`: a secret reference and/or per-user credentials.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CassandraAuth {
    /// `cassandra.auth.secret`: a Kubernetes secret holding the credentials.
    pub secret: Option<String>,
    /// `cassandra.auth.<user>` for `default`, `admin`, `ddl`, `dml`, `jmx`, `jolokia`, ... .
    pub users: BTreeMap<String, Credential>,
}

/// One user's credentials. The password never prints.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Credential {
    /// `username`, when the file sets one.
    pub username: Option<String>,
    /// `password`, when the file sets one.
    #[serde(skip)]
    pub password: Option<Secret>,
}

/// One `virtualhosts[]` entry's TLS settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct VirtualHost {
    /// `name`.
    pub name: Option<String>,
    /// `sslCertPath`.
    pub ssl_cert_path: Option<String>,
    /// `sslKeyPath`.
    pub ssl_key_path: Option<String>,
    /// `sslSecret`.
    pub ssl_secret: Option<String>,
}

/// How the view reports a wrong type: the caller adds the location from the span tree.
pub(crate) type Locate<'a> = &'a dyn Fn(&[&str]) -> (usize, usize);

fn wrong(path: &[&str], expected: &'static str, locate: Locate<'_>) -> OverridesError {
    let (line, column) = locate(path);
    OverridesError::WrongType { path: path.join("."), expected, line, column }
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A scalar read as a string: strings as they are, numbers as written. Not a list or mapping.
fn string_at(v: &Value, path: &[&str], locate: Locate<'_>) -> Result<Option<String>, OverridesError> {
    let mut cur = v;
    for key in path {
        match get(cur, key) {
            Some(next) => cur = next,
            None => return Ok(None),
        }
    }
    match cur {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(wrong(path, "a single value (text), not a list or mapping", locate)),
    }
}

fn section<'v>(v: &'v Value, key: &str, locate: Locate<'_>) -> Result<Option<&'v Value>, OverridesError> {
    match get(v, key) {
        None => Ok(None),
        Some(m @ Value::Mapping(_)) => Ok(Some(m)),
        Some(_) => Err(wrong(&[key], "a mapping (key: value pairs)", locate)),
    }
}

impl OverridesView {
    pub(crate) fn read(text: &str, locate: Locate<'_>) -> Result<Self, OverridesError> {
        let mut root: Value = yaml_serde::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            OverridesError::Syntax { line, column, message: e.to_string() }
        })?;
        root.apply_merge().map_err(|e| OverridesError::Syntax { line: 0, column: 0, message: e.to_string() })?;
        if root.is_null() {
            return Ok(Self::default());
        }
        if !root.is_mapping() {
            return Err(wrong(&["(root)"], "a mapping (key: value pairs)", locate));
        }
        let mut view = Self {
            instance_id: string_at(&root, &["instanceID"], locate)?,
            org: string_at(&root, &["org"], locate)?,
            k8s_cluster_name: string_at(&root, &["k8sCluster", "name"], locate)?,
            k8s_cluster_region: string_at(&root, &["k8sCluster", "region"], locate)?,
            ..Self::default()
        };
        if let Some(c) = section(&root, "cassandra", locate)? {
            let host_network = match get(c, "hostNetwork") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(wrong(&["cassandra", "hostNetwork"], "true or false", locate)),
            };
            let replica_count = match get(c, "replicaCount") {
                None => None,
                Some(v) => {
                    Some(v.as_u64().ok_or_else(|| wrong(&["cassandra", "replicaCount"], "a whole number", locate))?)
                }
            };
            view.cassandra = CassandraView {
                datacenter: string_at(c, &["datacenter"], locate)?,
                rack: string_at(c, &["rack"], locate)?,
                host_network,
                cluster_name: string_at(c, &["clusterName"], locate)?,
                multi_region_seed_host: string_at(c, &["multiRegionSeedHost"], locate)?,
                replica_count,
                auth: read_auth(c, locate)?,
                node_selector: None,
                image: match (string_at(c, &["image", "url"], locate)?, string_at(c, &["image", "tag"], locate)?) {
                    (Some(url), Some(tag)) => Some(format!("{url}:{tag}")),
                    _ => None,
                },
            };
        }
        let selector = |v: &Value, path: &[&str]| -> Result<Option<(String, String)>, OverridesError> {
            let key: Vec<&str> = path.iter().copied().chain(["key"]).collect();
            let value: Vec<&str> = path.iter().copied().chain(["value"]).collect();
            Ok(match (string_at(v, &key, locate)?, string_at(v, &value, locate)?) {
                (Some(k), Some(v)) if !k.is_empty() => Some((k, v)),
                _ => None,
            })
        };
        view.cassandra.node_selector = match selector(&root, &["cassandra", "nodeSelector"])? {
            Some(s) => Some(s),
            None => selector(&root, &["nodeSelector", "apigeeData"])?,
        };
        if let Some(hosts) = get(&root, "virtualhosts") {
            let list = hosts.as_sequence().ok_or_else(|| wrong(&["virtualhosts"], "a list", locate))?;
            for h in list {
                view.virtualhosts.push(VirtualHost {
                    name: string_at(h, &["name"], locate)?,
                    ssl_cert_path: string_at(h, &["sslCertPath"], locate)?,
                    ssl_key_path: string_at(h, &["sslKeyPath"], locate)?,
                    ssl_secret: string_at(h, &["sslSecret"], locate)?,
                });
            }
        }
        Ok(view)
    }
}

fn read_auth(cassandra: &Value, locate: Locate<'_>) -> Result<CassandraAuth, OverridesError> {
    let mut auth = CassandraAuth::default();
    let Some(a) = get(cassandra, "auth") else { return Ok(auth) };
    let map = a.as_mapping().ok_or_else(|| wrong(&["cassandra", "auth"], "a mapping", locate))?;
    for (k, v) in map {
        let Some(user) = k.as_str() else { continue };
        if user == "secret" {
            auth.secret = string_at(cassandra, &["auth", "secret"], locate)?;
            continue;
        }
        if !v.is_mapping() {
            continue; // other auth settings (image, ...) are not credentials
        }
        let username = string_at(v, &["username"], locate)?;
        // A password is a secret whatever its YAML type; never echo it in an error.
        let password = match get(v, "password") {
            None => None,
            Some(Value::String(s)) => Some(Secret::new(s.clone())),
            Some(Value::Number(n)) => Some(Secret::new(n.to_string())),
            Some(Value::Bool(b)) => Some(Secret::new(b.to_string())),
            Some(_) => return Err(wrong(&["cassandra", "auth", user, "password"], "a single value", locate)),
        };
        if username.is_some() || password.is_some() {
            auth.users.insert(user.to_owned(), Credential { username, password });
        }
    }
    Ok(auth)
}
