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
        vec!["decommission", "--help"],
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
fn a_decommission_plan_is_read_as_one_and_an_expansion_plan_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plan.yaml");
    // An expansion plan given to decommission: `source` is not a decommission key.
    std::fs::write(&p, "source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\n").unwrap();
    let o = run(&["decommission", "--plan", p.to_str().unwrap(), "--dry-run"], None);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("plan.yaml:1:") && err(&o).contains("source"), "{}", err(&o));
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

/// stderr with the temporary folder replaced, for snapshots.
fn err_in(o: &Output, dir: &Path) -> String {
    err(o).replace(&format!("{}/", dir.display()), "")
}

const PLAN_HEAD: &str = "name: west\nsource: {context: east, kubeconfig: kubeconfig, overrides: east.yaml, datacenter: dc-1}\ntarget: {context: west, kubeconfig: kubeconfig, overrides: west.yaml, datacenter: dc-2}\n";
const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: u, user: {token: not-a-secret}}]\ncontexts: [{name: east, context: {cluster: c, user: u}}, {name: west, context: {cluster: c, user: u}}]\ncurrent-context: east\n";

#[test]
fn plan_errors_name_the_key_path_and_its_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plan.yaml");
    let mut all = String::new();
    for rest in [
        "installer:\n  kind: helm\n  org_release: apigee-org\n",
        "installer: {kind: apigeectl}\njmx: pod-env\n",
        "installer:\n  kind: apigeectl\n  charts: ./charts\n",
    ] {
        std::fs::write(&p, format!("{PLAN_HEAD}{rest}")).unwrap();
        let o = run(&["preflight", "--plan", p.to_str().unwrap()], None);
        assert_eq!(o.status.code(), Some(2));
        all.push_str(&err_in(&o, dir.path()));
    }
    insta::assert_snapshot!("plan_errors", all);
}

#[test]
fn jmx_and_overrides_errors_are_not_called_kubeconfig_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("kubeconfig"), KUBECONFIG).unwrap();
    std::fs::write(d.join("west.yaml"), SOURCE).unwrap();
    let p = d.join("plan.yaml");
    let mut all = String::new();
    // The source overrides file does not exist; then it does, and the JMX variable is not set.
    std::fs::write(&p, format!("{PLAN_HEAD}installer: {{kind: apigeectl}}\n")).unwrap();
    let o = run(&["preflight", "--plan", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    all.push_str(&err_in(&o, d));
    std::fs::write(d.join("east.yaml"), SOURCE).unwrap();
    std::fs::write(
        &p,
        format!("{PLAN_HEAD}installer: {{kind: apigeectl}}\njmx: {{from: env, username_env: T_JMX_USER_UNSET, password_env: T_JMX_PW_UNSET}}\n"),
    )
    .unwrap();
    let o = run(&["preflight", "--plan", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    all.push_str(&err_in(&o, d));
    assert!(!all.contains("kubeconfig:"), "{all}");
    // A context that is not in the kubeconfig is a kubeconfig error, and says so.
    std::fs::write(
        &p,
        format!("{PLAN_HEAD}installer: {{kind: apigeectl}}\n").replace("context: west", "context: typo"),
    )
    .unwrap();
    let o = run(&["preflight", "--plan", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    all.push_str(&err_in(&o, d));
    insta::assert_snapshot!("connect_errors", all);
}

#[test]
fn dash_o_on_an_edit_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("west.yaml");
    std::fs::write(&f, SOURCE).unwrap();
    let mut all = String::new();
    for args in [
        vec!["overrides", "set-seed", "west.yaml", "--seed-host", "10.1.0.4", "-o", "json"],
        vec!["overrides", "clear-seed", "west.yaml", "-o", "text"],
        vec!["overrides", "clear-seed", "west.yaml", "-o", "out.yaml"],
    ] {
        let o = bin().args(&args).current_dir(dir.path()).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        all.push_str(&err(&o));
    }
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files, ["west.yaml"], "no file named json, text or out.yaml, no backup");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), SOURCE);
    insta::assert_snapshot!("dash_o_on_an_edit", all);
}

#[test]
fn repeated_in_place_edits_say_which_backup_they_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("west.yaml");
    std::fs::write(&f, SOURCE).unwrap();
    let mut all = String::new();
    for seed in ["10.1.0.4", "10.1.0.5", "10.1.0.5"] {
        let o = bin()
            .args(["overrides", "set-seed", "west.yaml", "--seed-host", seed, "--in-place"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", err(&o));
        all.push_str(&err(&o));
    }
    // Back to a version already kept: that backup is reused, not copied again.
    std::fs::write(&f, SOURCE).unwrap();
    let o = bin()
        .args(["overrides", "set-seed", "west.yaml", "--seed-host", "10.1.0.6", "--in-place"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    all.push_str(&err(&o));
    assert_eq!(std::fs::read_to_string(dir.path().join("west.yaml.orig")).unwrap(), SOURCE, "the oldest");
    assert!(std::fs::read_to_string(dir.path().join("west.yaml.orig.1")).unwrap().contains("10.1.0.4"));
    assert!(!dir.path().join("west.yaml.orig.2").exists());
    // -q: the same edits, nothing said.
    let o = bin()
        .args(["-q", "overrides", "set-seed", "west.yaml", "--seed-host", "10.1.0.7", "--in-place"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success() && o.stderr.is_empty() && o.stdout.is_empty(), "{}", err(&o));
    insta::assert_snapshot!("in_place_backups", all);
}

#[test]
fn quiet_keeps_the_result_and_drops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (dir.path().join("east.yaml"), dir.path().join("west.yaml"));
    std::fs::write(&s, SOURCE).unwrap();
    std::fs::write(&t, SOURCE.replace("dc-1", "dc-2")).unwrap();
    let (sp, tp) = (s.to_str().unwrap(), t.to_str().unwrap());
    // A passing check: its summary only, and nothing with -q.
    let o = run(&["overrides", "check", sp, tp], None);
    assert_eq!(out(&o), "0 error(s), 0 warning(s) (island network)\n");
    let o = run(&["-q", "overrides", "check", sp, tp], None);
    assert!(o.status.success() && out(&o).is_empty() && err(&o).is_empty(), "{}", out(&o));
    // A failing one: the findings (the result), not the summary.
    std::fs::write(&t, SOURCE.replace("dc-1", "dc-2").replace("      password: \"cli-s3cret\"\n", "")).unwrap();
    let o = run(&["-q", "overrides", "check", sp, tp], None);
    assert_eq!(o.status.code(), Some(3));
    let text = out(&o).replace(&format!("{}/", dir.path().display()), "");
    assert!(!text.contains("error(s)"), "{text}");
    insta::assert_snapshot!("quiet_check_missing_in_target", text);
    // The edited file on stdout is the result: printed with -q.
    let o = run(&["-q", "overrides", "clear-seed", tp], None);
    assert!(o.status.success() && err(&o).is_empty(), "{}", err(&o));
    assert_eq!(out(&o), std::fs::read_to_string(&t).unwrap());
    // JSON is the result: printed with -q.
    let o = run(&["-q", "overrides", "check", sp, tp, "-o", "json"], None);
    assert!(out(&o).contains("\"findings\""), "{}", out(&o));
}
