//! The CLI as a user runs it: help texts (snapshots), output on fixtures, exit codes, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apigee-multiregion"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apigee-multiregion-core/tests/fixtures").join(name)
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = bin();
    c.args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_texts() {
    for args in [
        vec!["--help"],
        vec!["expand", "--help"],
        vec!["seeds", "--help"],
        vec!["preflight", "--help"],
        vec!["verify", "--help"],
        vec!["overrides", "set-seed", "--help"],
        vec!["overrides", "clear-seed", "--help"],
        vec!["overrides", "check", "--help"],
        vec!["parse", "--help"],
    ] {
        let o = run(&args, None);
        assert!(o.status.success(), "{args:?}");
        insta::assert_snapshot!(format!("help_{}", args.join("_").replace("--", "")), out(&o));
    }
}

#[test]
fn parse_status_prints_the_documented_json() {
    let text = std::fs::read_to_string(fixture("nodetool-status-2dc-casskop-cluster-ops.txt")).unwrap();
    let o = run(&["parse", "status"], Some(&text));
    assert!(o.status.success(), "{}", err(&o));
    insta::assert_snapshot!("parse_status_casskop", out(&o));
}

#[test]
fn unparsable_nodetool_output_is_exit_2_with_the_line() {
    let o = run(&["parse", "netstats"], Some("error: Failed to connect\n"));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        err(&o),
        "error: stdin: nodetool netstats output, line 1: no `Mode:` line found; it starts with `error: Failed to connect`\n"
    );
}

const SOURCE: &str = "# east\ncassandra:\n  hostNetwork: true\n  datacenter: dc-1\n  auth:\n    jmx:\n      username: jmxuser\n      password: \"cli-s3cret\"\n";

#[test]
fn set_seed_in_place_keeps_the_original_and_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (dir.path().join("east.yaml"), dir.path().join("west.yaml"));
    std::fs::write(&s, SOURCE).unwrap();
    std::fs::write(&t, SOURCE.replace("# east", "# west")).unwrap();
    let o = run(
        &[
            "overrides",
            "set-seed",
            t.to_str().unwrap(),
            "--seed-host",
            "10.1.0.4",
            "--datacenter",
            "dc-2",
            "--in-place",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(&t).unwrap(),
        SOURCE.replace("# east", "# west").replace("dc-1", "dc-2") + "  multiRegionSeedHost: 10.1.0.4\n"
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("west.yaml.orig")).unwrap(), SOURCE.replace("# east", "# west"));
    let check = run(&["overrides", "check", s.to_str().unwrap(), t.to_str().unwrap()], None);
    assert_eq!(check.status.code(), Some(0), "{}", out(&check));
    let clear = run(&["overrides", "clear-seed", t.to_str().unwrap()], None);
    assert_eq!(out(&clear), SOURCE.replace("# east", "# west").replace("dc-1", "dc-2"), "to stdout, file untouched");
}

#[test]
fn check_finding_errors_is_exit_3_and_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("east.yaml");
    std::fs::write(&s, SOURCE).unwrap();
    let t = dir.path().join("west.yaml");
    std::fs::write(&t, SOURCE.replace("cli-s3cret", "other")).unwrap();
    let o = run(&["overrides", "check", s.to_str().unwrap(), t.to_str().unwrap(), "-o", "json"], None);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    let codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["same-datacenter", "credentials-mismatch"]);
    let f = &v["findings"][0];
    for key in ["severity", "code", "message", "path", "side", "line"] {
        assert!(f.get(key).is_some(), "{key}");
    }
    assert!(!out(&o).contains("cli-s3cret") && !err(&o).contains("cli-s3cret") && !out(&o).contains("other\""));
}

#[test]
fn bad_input_is_exit_2_says_where_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("west.yaml");
    // Missing file.
    let o = run(&["overrides", "clear-seed", "/nonexistent/west.yaml"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("cannot read /nonexistent/west.yaml"), "{}", err(&o));
    // Invalid YAML: file:line:col.
    std::fs::write(&f, "cassandra:\n  datacenter: [dc-1\n").unwrap();
    let o = run(&["overrides", "set-seed", f.to_str().unwrap(), "--seed-host", "10.0.0.1", "--in-place"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).starts_with(&format!("error: {}:", f.display())), "{}", err(&o));
    // A bad IP: refused, the file untouched, no backup made.
    std::fs::write(&f, SOURCE).unwrap();
    let o = run(&["overrides", "set-seed", f.to_str().unwrap(), "--seed-host", "10.0.0.999", "--in-place"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("seed host `10.0.0.999` is not valid"), "{}", err(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), SOURCE);
    assert!(!dir.path().join("west.yaml.orig").exists());
    // A bad datacenter name is a usage error from the argument parser.
    let o =
        run(&["overrides", "set-seed", f.to_str().unwrap(), "--seed-host", "10.0.0.1", "--datacenter", "dc 2"], None);
    assert_eq!(o.status.code(), Some(2));
    // An unknown kubeconfig context.
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: [{name: real, context: {cluster: c, user: u}}]\ncurrent-context: real\n").unwrap();
    let o = run(&["seeds", "--kubeconfig", kc.to_str().unwrap(), "--context", "typo"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("context `typo` is not in the kubeconfig (it has: real)"), "{}", err(&o));
}

#[test]
fn a_plan_with_a_typo_is_exit_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plan.yaml");
    std::fs::write(&p, "source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\nrebuild: {concurency: 2}\n").unwrap();
    let o = run(&["expand", "--plan", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("plan.yaml:4:") && err(&o).contains("concurency"), "{}", err(&o));
}

#[test]
fn completions_are_generated() {
    let o = run(&["completions", "bash"], None);
    assert!(o.status.success() && out(&o).contains("apigee-multiregion"));
}

#[test]
fn verbose_diagnostics_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("east.yaml"), SOURCE).unwrap();
    std::fs::write(d.join("west.yaml"), SOURCE.replace("# east", "# west")).unwrap();
    // A cluster that refuses connections: `expand` fails taking its lock, `preflight` (no lock) in
    // its step, after reading both files.
    std::fs::write(
        d.join("kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: u, user: {token: not-a-secret}}]\ncontexts: [{name: east, context: {cluster: c, user: u}}, {name: west, context: {cluster: c, user: u}}]\ncurrent-context: east\n",
    )
    .unwrap();
    let plan = d.join("plan.yaml");
    std::fs::write(
        &plan,
        "name: west\nsource: {context: east, kubeconfig: kubeconfig, overrides: east.yaml, datacenter: dc-1}\ntarget: {context: west, kubeconfig: kubeconfig, overrides: west.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\n",
    )
    .unwrap();
    for flags in [&["-v"][..], &["-vv"][..]] {
        for cmd in [&["expand", "--plan"][..], &["expand", "--dry-run", "--plan"][..], &["preflight", "--plan"][..]] {
            let mut args: Vec<&str> = flags.to_vec();
            args.extend_from_slice(cmd);
            args.push(plan.to_str().unwrap());
            let o = run(&args, None);
            assert!(!o.status.success(), "{args:?}: {}", err(&o));
            assert!(!err(&o).contains("cli-s3cret") && !out(&o).contains("cli-s3cret"), "{args:?}: {}", err(&o));
            if cmd[0] == "preflight" {
                assert!(err(&o).contains("step{step=preflight}"), "{args:?}: the step span is logged: {}", err(&o));
            }
        }
    }
    let text = std::fs::read_to_string(fixture("nodetool-status-2dc-casskop-cluster-ops.txt")).unwrap();
    let o = run(&["-vv", "parse", "status"], Some(&text));
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn verbose_flag_is_global_and_counts() {
    let o = run(&["parse", "-vv", "netstats"], Some("error: Failed to connect\n"));
    assert_eq!(o.status.code(), Some(2), "-vv after the subcommand is accepted");
}
