use super::*;
use crate::model::{DatacenterName, RackName};

const REGION1: &str = "\
# Apigee hybrid overrides, region 1
gcp:
  region: us-east1
  projectID: my-project

k8sCluster:
  name: aks-east        # the AKS cluster
  region: eastus

instanceID: \"hybrid-east\"
org: my-org

cassandra:
  hostNetwork: true     # island network (AKS)
  replicaCount: 3
  datacenter: \"dc-1\"
  rack: 'ra-1'
  auth:
    default:
      password: \"s3cret-default\"
    jmx:
      username: jmxuser
      password: \"s3cret-jmx\"

virtualhosts:
  - name: default
    sslCertPath: ./certs/keystore.pem
    sslKeyPath: ./certs/keystore.key
";

fn doc(text: &str) -> OverridesDoc {
    OverridesDoc::parse(text).unwrap()
}

/// A unified-ish diff: only changed lines, for snapshot assertions.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let prefix = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let suffix = b[prefix..].iter().rev().zip(a[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut out: Vec<String> = b[prefix..b.len() - suffix].iter().map(|l| format!("-{l}")).collect();
    out.extend(a[prefix..a.len() - suffix].iter().map(|l| format!("+{l}")));
    out
}

#[test]
fn set_seed_host_adds_one_line_after_the_last_cassandra_key() {
    let mut d = doc(REGION1);
    d.set_seed_host("10.1.0.4").unwrap();
    assert_eq!(changed_lines(REGION1, d.text()), ["+  multiRegionSeedHost: 10.1.0.4"]);
    assert_eq!(d.view().unwrap().cassandra.multi_region_seed_host.as_deref(), Some("10.1.0.4"));
}

#[test]
fn set_then_clear_seed_host_gives_back_the_original_bytes() {
    let mut d = doc(REGION1);
    d.set_seed_host("10.1.0.4").unwrap();
    assert!(d.clear_seed_host().unwrap());
    assert_eq!(d.text(), REGION1);
    assert!(!d.clear_seed_host().unwrap(), "a second clear finds nothing");
}

#[test]
fn set_datacenter_keeps_the_double_quotes_and_rack_keeps_single_quotes() {
    let mut d = doc(REGION1);
    d.set_datacenter(&DatacenterName::new("dc-2").unwrap()).unwrap();
    d.set_rack(&RackName::new("ra-2").unwrap()).unwrap();
    assert_eq!(
        changed_lines(REGION1, d.text()),
        ["-  datacenter: \"dc-1\"", "-  rack: 'ra-1'", "+  datacenter: \"dc-2\"", "+  rack: 'ra-2'"]
    );
}

#[test]
fn set_host_network_replaces_the_value_and_keeps_the_comment() {
    let mut d = doc(REGION1);
    d.set_host_network(false).unwrap();
    assert_eq!(
        changed_lines(REGION1, d.text()),
        ["-  hostNetwork: true     # island network (AKS)", "+  hostNetwork: false     # island network (AKS)"]
    );
}

#[test]
fn crlf_files_stay_crlf() {
    let text = "cassandra:\r\n  datacenter: dc-1\r\n# end\r\n";
    let mut d = doc(text);
    d.set_seed_host("10.0.0.1").unwrap();
    assert_eq!(d.text(), "cassandra:\r\n  datacenter: dc-1\r\n  multiRegionSeedHost: 10.0.0.1\r\n# end\r\n");
    d.clear_seed_host().unwrap();
    assert_eq!(d.text(), text);
}

#[test]
fn a_missing_cassandra_section_is_added_with_the_file_s_indentation() {
    let text = "org: my-org\nk8sCluster:\n    name: aks\n";
    let mut d = doc(text);
    d.set_seed_host("10.0.0.1").unwrap();
    assert_eq!(d.text(), "org: my-org\nk8sCluster:\n    name: aks\ncassandra:\n    multiRegionSeedHost: 10.0.0.1\n");
    d.clear_seed_host().unwrap();
    assert_eq!(d.text(), text, "set then clear restores the bytes");
}

#[test]
fn an_empty_file_gets_a_cassandra_section() {
    let mut d = doc("# only a comment\n");
    d.set_datacenter(&DatacenterName::new("dc-2").unwrap()).unwrap();
    assert_eq!(d.text(), "# only a comment\ncassandra:\n  datacenter: dc-2\n");
}

#[test]
fn a_null_cassandra_section_becomes_a_mapping_and_keeps_its_comment() {
    let mut d = doc("cassandra: # to fill\norg: x\n");
    d.set_rack(&RackName::new("ra-1").unwrap()).unwrap();
    assert_eq!(d.text(), "cassandra: # to fill\n  rack: ra-1\norg: x\n");
}

#[test]
fn flow_mappings_are_edited_in_place() {
    let mut d = doc("cassandra: {datacenter: dc-1, hostNetwork: true}\n");
    d.set_seed_host("10.0.0.1").unwrap();
    assert_eq!(d.text(), "cassandra: {datacenter: dc-1, hostNetwork: true, multiRegionSeedHost: 10.0.0.1}\n");
    d.clear_seed_host().unwrap();
    assert_eq!(d.text(), "cassandra: {datacenter: dc-1, hostNetwork: true}\n");
    let mut e = doc("cassandra: {}\n");
    e.set_host_network(true).unwrap();
    assert_eq!(e.text(), "cassandra: {hostNetwork: true}\n");
}

#[test]
fn a_block_scalar_as_last_value_does_not_swallow_the_new_key() {
    let text = "cassandra:\n  datacenter: dc-1\n  note: |\n    line one\n    line two\norg: x\n";
    let mut d = doc(text);
    d.set_seed_host("10.0.0.1").unwrap();
    assert_eq!(
        d.text(),
        "cassandra:\n  datacenter: dc-1\n  note: |\n    line one\n    line two\n  multiRegionSeedHost: 10.0.0.1\norg: x\n"
    );
    d.clear_seed_host().unwrap();
    assert_eq!(d.text(), text);
}

#[test]
fn a_value_that_comes_through_an_alias_is_refused() {
    let text = "base: &dc dc-1\ncassandra:\n  datacenter: *dc\n";
    let mut d = doc(text);
    let err = d.set_datacenter(&DatacenterName::new("dc-2").unwrap()).unwrap_err();
    assert!(matches!(err, OverridesError::SharedValue { line: 3, .. }), "{err}");
    assert_eq!(d.text(), text, "nothing changed");
}

#[test]
fn a_merged_value_is_overridden_explicitly_without_touching_the_anchor() {
    let text = "defaults: &c\n  datacenter: dc-1\n  rack: ra-1\ncassandra:\n  <<: *c\n  hostNetwork: true\n";
    let mut d = doc(text);
    assert_eq!(d.view().unwrap().cassandra.datacenter.as_deref(), Some("dc-1"), "merge keys are applied when reading");
    d.set_datacenter(&DatacenterName::new("dc-2").unwrap()).unwrap();
    assert_eq!(changed_lines(text, d.text()), ["+  datacenter: dc-2"]);
    assert_eq!(d.view().unwrap().cassandra.datacenter.as_deref(), Some("dc-2"));
}

#[test]
fn an_anchored_cassandra_section_is_refused() {
    let mut d = doc("cassandra: &c\n  datacenter: dc-1\nother:\n  <<: *c\n");
    assert!(matches!(d.set_seed_host("10.0.0.1"), Err(OverridesError::SharedValue { .. })));
}

/// Found by `fuzz/run` (overrides_seed): `&name:` is an anchor named `name:` to the span tree's
/// parser, but an anchored empty key to `yaml_serde` (and to Apigee's Go tools, both libyaml
/// descendants). The edit looked right in the span tree and landed one level too deep for the
/// reader that matters; now the typed view must agree too, or nothing changes.
#[test]
fn an_edit_the_typed_view_would_read_elsewhere_is_refused_and_changes_nothing() {
    let text = "&root:\n    org: example\n    jmx:\n";
    let mut d = doc(text);
    let err = d.set_seed_host("10.0.0.1").unwrap_err();
    assert!(matches!(err, OverridesError::EditVerification { .. }), "{err}");
    assert!(err.to_string().contains("YAML readers disagree"), "{err}");
    assert_eq!(d.text(), text);
    assert_eq!(d.view().unwrap().cassandra.multi_region_seed_host, None);
}

#[test]
fn duplicate_keys_the_tool_reads_are_refused_with_both_lines() {
    let err = OverridesDoc::parse("cassandra:\n  datacenter: dc-1\n  datacenter: dc-2\n").unwrap_err();
    assert_eq!(
        err,
        OverridesError::DuplicateKey { key: "cassandra.datacenter".into(), line: 3, column: 3, first_line: 2 }
    );
    assert!(err.to_string().contains("remove one of them"), "{err}");
    for (text, key, line, first_line) in [
        ("cassandra:\n  hostNetwork: true\norg: o\ncassandra:\n  hostNetwork: false\n", "cassandra", 4, 1),
        ("cassandra:\n  auth:\n    jmx:\n      username: a\n      username: b\n", "cassandra.auth.jmx.username", 5, 4),
        ("cassandra: {rack: ra-1, rack: ra-2}\n", "cassandra.rack", 1, 1),
        ("instanceID: a\ninstanceID: b\n", "instanceID", 2, 1),
        ("org: a\nenvs: []\norg: b\n", "org", 3, 1),
        ("k8sCluster:\n  name: a\n  name: b\n", "k8sCluster.name", 3, 2),
        ("nodeSelector:\n  apigeeData:\n    key: a\n    key: b\n", "nodeSelector.apigeeData.key", 4, 3),
        ("virtualhosts:\n  - name: g\n    sslSecret: a\n    sslSecret: b\n", "virtualhosts[0].sslSecret", 4, 3),
        // Inside an anchored node, a merge key can carry it anywhere (here into `cassandra`).
        ("base: &b\n  rack: ra-1\n  rack: ra-2\ncassandra:\n  <<: *b\n", "base.rack", 3, 2),
    ] {
        match OverridesDoc::parse(text) {
            Err(OverridesError::DuplicateKey { key: k, line: l, first_line: f, .. }) => {
                assert_eq!((k.as_str(), l, f), (key, line, first_line), "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

/// Google's own templates and many real files carry duplicate keys; Helm and apigeectl keep the
/// last one. Outside what the tool reads or edits they are accepted, listed for a warning, and
/// left exactly as written by an edit.
#[test]
fn duplicate_keys_the_tool_does_not_read_are_accepted_and_listed() {
    let text = "\
org: my-org
envs:
  - name: test
    serviceAccountPaths:
      synchronizer: a.json
      runtime: r.json
      synchronizer: b.json
logger:
  enabled: false
redis:
  auth:
    password: \"first-pass-1\"
    password: \"second-pass-2\"
logger:
  enabled: true
ingressGateways: [{name: gw, name: gw-2}]
cassandra:
  hostNetwork: true   # island
  datacenter: dc-2
";
    let mut d = OverridesDoc::parse(text).unwrap();
    let dups: Vec<(String, usize, usize)> =
        d.ignored_duplicates().into_iter().map(|x| (x.path, x.first_line, x.line)).collect();
    assert_eq!(
        dups,
        [
            ("envs[0].serviceAccountPaths.synchronizer".to_owned(), 5, 7),
            ("redis.auth.password".to_owned(), 12, 13),
            ("logger".to_owned(), 8, 14),
            ("ingressGateways[0].name".to_owned(), 16, 16),
        ]
    );
    let view = d.view().unwrap();
    assert_eq!((view.org.as_deref(), view.cassandra.datacenter.as_deref()), (Some("my-org"), Some("dc-2")));
    // Both passwords are secrets, the one Helm ignores too.
    let secrets: Vec<String> = d.secret_values().iter().map(|s| s.expose().to_owned()).collect();
    assert!(
        secrets.contains(&"first-pass-1".to_owned()) && secrets.contains(&"second-pass-2".to_owned()),
        "{}",
        secrets.len()
    );
    d.set_seed_host("10.0.0.4").unwrap();
    assert_eq!(d.text(), text.replace("  datacenter: dc-2\n", "  datacenter: dc-2\n  multiRegionSeedHost: 10.0.0.4\n"));
    assert_eq!(d.view().unwrap().cassandra.multi_region_seed_host.as_deref(), Some("10.0.0.4"));
    assert!(d.clear_seed_host().unwrap());
    assert_eq!(d.text(), text);

    // The pair check warns about each, naming both lines and the file.
    let source = OverridesDoc::parse("org: my-org\ncassandra:\n  hostNetwork: true\n").unwrap();
    let findings = crate::overrides::check_pair(&source, &d).unwrap();
    let warned: Vec<&crate::overrides::Finding> = findings.iter().filter(|f| f.code == "duplicate-key").collect();
    assert_eq!(warned.len(), 4, "{findings:#?}");
    assert!(
        warned
            .iter()
            .all(|f| f.severity == crate::overrides::Severity::Warning && f.side == crate::overrides::Side::Target)
    );
    assert_eq!(warned[2].line, Some(14));
    assert!(
        warned[2].message.contains("lines 8 and 14") && warned[2].message.contains("use the last one"),
        "{}",
        warned[2].message
    );
    assert!(findings.iter().all(|f| !f.message.contains("pass-")), "no secret in any finding");
}

#[test]
fn several_documents_are_refused() {
    let err = OverridesDoc::parse("a: 1\n---\nb: 2\n").unwrap_err();
    assert!(matches!(err, OverridesError::MultipleDocuments { line: 2 }), "{err}");
}

#[test]
fn tabs_in_indentation_are_refused_with_line_and_column() {
    let err = OverridesDoc::parse("cassandra:\n\tdatacenter: dc-1\n").unwrap_err();
    assert_eq!(err.location().map(|l| l.0), Some(2), "{err}");
}

#[test]
fn invalid_yaml_says_where() {
    let err = OverridesDoc::parse("cassandra:\n  datacenter: [dc-1\n").unwrap_err();
    assert!(matches!(err, OverridesError::Syntax { .. }), "{err}");
    assert!(err.location().is_some());
}

#[test]
fn a_wrong_type_names_the_key_and_line() {
    let err = OverridesDoc::parse("cassandra:\n  hostNetwork: maybe\n").unwrap_err();
    assert_eq!(err.to_string(), "line 2, column 16: `cassandra.hostNetwork` must be true or false");
}

#[test]
fn seed_host_must_be_an_address_or_a_name() {
    let mut d = doc(REGION1);
    assert!(d.set_seed_host("10.0.0.1; rm -rf /").is_err());
    assert!(d.set_seed_host("").is_err());
    assert!(d.set_seed_host("cassandra-0.region1.example.com").is_ok());
    assert!(d.set_seed_host("fd00::4").is_ok());
    assert!(d.text().contains("multiRegionSeedHost: \"fd00::4\""), "an IPv6 address is quoted");
}

#[test]
fn values_that_yaml_would_misread_are_quoted() {
    let mut d = doc("cassandra:\n  rack: r\n");
    d.set_rack(&RackName::new("1").unwrap()).unwrap();
    assert_eq!(d.view().unwrap().cassandra.rack.as_deref(), Some("1"));
    d.set_rack(&RackName::new("no").unwrap()).unwrap();
    assert!(d.text().contains("rack: r") || d.text().contains("\"no\"") || d.text().contains("'no'"));
    assert_eq!(d.view().unwrap().cassandra.rack.as_deref(), Some("no"));
}

#[test]
fn debug_output_never_shows_the_text() {
    let d = doc(REGION1);
    let dbg = format!("{d:?} {:?}", d.view().unwrap());
    assert!(!dbg.contains("s3cret"), "{dbg}");
}

fn target_for(source: &str) -> String {
    source.replace("\"dc-1\"", "\"dc-2\"").replace("hybrid-east", "hybrid-west").replace("aks-east", "aks-west")
}

#[test]
fn a_correct_pair_has_no_findings() {
    let t = target_for(REGION1);
    assert_eq!(check_pair(&doc(REGION1), &doc(&t)).unwrap(), vec![]);
}

#[test]
fn refuses_when_new_dc_name_equals_the_source() {
    let f = check_pair(&doc(REGION1), &doc(REGION1)).unwrap();
    let codes: Vec<&str> = f.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["same-datacenter", "instance-id-reused"]);
    assert_eq!(f[0].line, Some(16));
}

#[test]
fn a_target_without_datacenter_would_join_as_dc_1() {
    let t = target_for(REGION1).replace("  datacenter: \"dc-2\"\n", "");
    let f = check_pair(&doc(REGION1), &doc(&t)).unwrap();
    assert_eq!(f[0].code, "missing-datacenter");
}

#[test]
fn credentials_mismatch_never_shows_the_passwords() {
    let t = target_for(REGION1).replace("s3cret-jmx", "other-jmx").replace("username: jmxuser", "username: admin");
    let f = check_pair(&doc(REGION1), &doc(&t)).unwrap();
    let codes: Vec<&str> = f.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["credentials-mismatch", "credentials-mismatch"]);
    let all = format!("{f:?} {}", f.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    assert!(!all.contains("s3cret") && !all.contains("other-jmx"), "{all}");
}

#[test]
fn cluster_name_host_network_seed_and_tls_are_checked() {
    let s = REGION1.replace("  replicaCount: 3\n", "  replicaCount: 3\n  multiRegionSeedHost: 10.9.9.9\n");
    let t = target_for(REGION1)
        .replace("  hostNetwork: true     # island network (AKS)\n", "  clusterName: other\n")
        .replace("./certs/keystore.pem", "./certs/west.pem");
    let f = check_pair(&doc(&s), &doc(&t)).unwrap();
    let codes: Vec<&str> = f.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["cluster-name-mismatch", "host-network-disabled", "seed-host-present", "tls-mismatch"]);
    assert_eq!(f[1].side, Side::Target);
    assert_eq!(f[1].line, None, "hostNetwork is absent in the target");
    let flat = check_pair_with(&doc(&s), &doc(&t), &CheckOptions { island_network: false }).unwrap();
    assert!(flat.iter().all(|f| f.code != "host-network-disabled"));
}

#[test]
fn a_value_absent_on_one_side_is_missing_there_not_different() {
    let sections = |jmx: &str| format!("cassandra:\n  datacenter: dc-1\n  hostNetwork: true\n  auth:\n{jmx}");
    let source = sections("    jmx:\n      username: jmxuser\n      password: \"s3cret-jmx\"\n");
    let target = sections("    jmx:\n      username: jmxuser\n").replace("dc-1", "dc-2");
    let both = sections("    jmx:\n      username: jmxuser\n      password: \"other\"\n").replace("dc-1", "dc-2");
    let only_target =
        sections("    secret: creds\n    jmx:\n      username: jmxuser\n      password: \"s3cret-jmx\"\n")
            .replace("dc-1", "dc-2");
    let mut out = Vec::new();
    for (s, t) in [
        (&source, &target),
        (&target.replace("dc-2", "dc-1"), &source.replace("dc-1", "dc-2")),
        (&source, &both),
        (&source, &only_target),
    ] {
        for f in check_pair(&doc(s), &doc(t)).unwrap() {
            out.push(f.to_string());
        }
    }
    let all = out.join("\n");
    assert!(!all.contains("s3cret") && !all.contains("other\""), "{all}");
    insta::assert_snapshot!("check_missing_on_one_side", all);
}

#[test]
fn the_view_reads_cassandra_s_node_label_and_image_for_the_network_probe() {
    let v = doc(REGION1).view().unwrap();
    assert_eq!((v.cassandra.node_selector, v.cassandra.image), (None, None));
    let global = "nodeSelector:\n  requiredForScheduling: true\n  apigeeData:\n    key: cloud.google.com/gke-nodepool\n    value: apigee-data\ncassandra:\n  image:\n    url: registry.example/apigee-hybrid-cassandra\n    tag: \"1.12.1\"\n";
    let v = doc(global).view().unwrap();
    assert_eq!(v.cassandra.node_selector, Some(("cloud.google.com/gke-nodepool".into(), "apigee-data".into())));
    assert_eq!(v.cassandra.image.as_deref(), Some("registry.example/apigee-hybrid-cassandra:1.12.1"));
    let own = format!("{global}  nodeSelector:\n    key: pool\n    value: cassandra\n");
    let v = doc(&own).view().unwrap();
    assert_eq!(v.cassandra.node_selector, Some(("pool".into(), "cassandra".into())), "the component's own wins");
}

#[test]
fn a_trailing_comment_on_the_edited_line_is_kept() {
    for (before, after) in [
        (
            r#"  multiRegionSeedHost: "10.0.0.10"   # seed in west"#,
            r#"  multiRegionSeedHost: "10.0.0.11"   # seed in west"#,
        ),
        ("  multiRegionSeedHost: '10.0.0.10'   # seed in west", "  multiRegionSeedHost: '10.0.0.11'   # seed in west"),
        ("  multiRegionSeedHost: 10.0.0.10   # seed in west", "  multiRegionSeedHost: 10.0.0.11   # seed in west"),
        ("  multiRegionSeedHost: 10.0.0.10\t# seed in west", "  multiRegionSeedHost: 10.0.0.11\t# seed in west"),
    ] {
        let text = format!("cassandra:\n{before}\n  datacenter: dc-2 # new region\n");
        let mut d = OverridesDoc::parse(&text).unwrap();
        d.set_seed_host("10.0.0.11").unwrap();
        assert_eq!(d.text(), format!("cassandra:\n{after}\n  datacenter: dc-2 # new region\n"));
        assert_eq!(d.view().unwrap().cassandra.multi_region_seed_host.as_deref(), Some("10.0.0.11"));
        assert!(d.clear_seed_host().unwrap());
        assert_eq!(d.text(), "cassandra:\n  datacenter: dc-2 # new region\n");
    }
}

#[test]
fn a_flow_style_section_followed_by_a_comment_in_a_crlf_file_is_edited_in_place() {
    let text = "org: my-org\r\ncassandra: {datacenter: dc-2, hostNetwork: true}  # the datastore\r\nenvs: []\r\n";
    let mut d = OverridesDoc::parse(text).unwrap();
    d.set_seed_host("10.0.0.11").unwrap();
    assert_eq!(
        d.text(),
        "org: my-org\r\ncassandra: {datacenter: dc-2, hostNetwork: true, multiRegionSeedHost: 10.0.0.11}  # the datastore\r\nenvs: []\r\n"
    );
    assert_eq!(d.view().unwrap().cassandra.multi_region_seed_host.as_deref(), Some("10.0.0.11"));
    d.set_rack(&"ra-1".parse().unwrap()).unwrap();
    assert!(d.clear_seed_host().unwrap());
    assert_eq!(
        d.text(),
        "org: my-org\r\ncassandra: {datacenter: dc-2, hostNetwork: true, rack: ra-1}  # the datastore\r\nenvs: []\r\n"
    );
    // A seed host written in the flow mapping by hand is cleared there too (what finalize does).
    let text = "cassandra: {multiRegionSeedHost: \"10.0.0.1\", datacenter: dc-2} # dc-2\r\n";
    let mut d = OverridesDoc::parse(text).unwrap();
    assert!(d.clear_seed_host().unwrap());
    assert_eq!(d.text(), "cassandra: {datacenter: dc-2} # dc-2\r\n");
}

/// Where dropping the earlier of two keys could change what else the file says, the duplicate is
/// refused even outside the paths the tool reads.
#[test]
fn a_duplicate_whose_removal_would_change_other_values_is_refused() {
    for (text, key) in [
        // Helm resolves `*dc` to the last `&dc`: the one inside the earlier entry.
        ("defaults: &dc dc-1\nextra:\n  name: &dc dc-2\n  name: x\ncassandra:\n  datacenter: *dc\n", "extra.name"),
        // Blanked lines right after a block scalar would join it.
        (
            "cassandra:\n  auth:\n    jmx:\n      password: |-\n        s3cretpw\nimagePullSecrets: a\nimagePullSecrets: b\n",
            "imagePullSecrets",
        ),
        // Under a merge key, the value is read wherever it is merged.
        ("<<:\n  cassandra: {datacenter: dc-1, datacenter: dc-2}\n", "<<.cassandra.datacenter"),
        ("logger: {a: 1}\n? logger\n: {a: 2}\n? logger\n: {a: 3}\n", "logger"),
    ] {
        match OverridesDoc::parse(text) {
            Err(OverridesError::DuplicateKey { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    // An explicit key after an ordinary one: the earlier is dropped, the `?` kept.
    let d = OverridesDoc::parse("x:\n  a: 1\n  ? a\n  : 2\norg: o\n").unwrap();
    assert_eq!(d.ignored_duplicates().len(), 1);
    assert_eq!(d.view().unwrap().org.as_deref(), Some("o"));
    // A comment between the block scalar and the duplicate ends the scalar: accepted.
    let text = "cassandra:\n  auth:\n    jmx:\n      password: |-\n        s3cretpw\n# images\nimagePullSecrets: a\nimagePullSecrets: b\n";
    let d = OverridesDoc::parse(text).unwrap();
    let pw = d.view().unwrap().cassandra.auth.users["jmx"].password.clone().unwrap();
    assert_eq!(pw.expose(), "s3cretpw");
}

#[test]
fn a_tagged_quoted_value_keeps_its_comment_when_replaced() {
    let mut d = OverridesDoc::parse("cassandra:\n  datacenter: !!str \"dc-1\"  # west\n  rack: ra-1\n").unwrap();
    d.set_datacenter(&"dc-2".parse().unwrap()).unwrap();
    assert_eq!(d.text(), "cassandra:\n  datacenter: \"dc-2\"  # west\n  rack: ra-1\n");
    let mut d = OverridesDoc::parse("cassandra:\n  rack: &r 'ra-1'   # the rack\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(d.set_rack(&"ra-2".parse().unwrap()).is_err(), "an anchored value is not edited");
    assert_eq!(d.text(), "cassandra:\n  rack: &r 'ra-1'   # the rack\n");
}
