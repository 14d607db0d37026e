//! Expanding an installation that already has two datacenters to a third.

use apigee_multiregion_core::expansion::{ExpansionError, RunOptions};
use apigee_multiregion_core::overrides::Severity;

use apigee_multiregion_core::expansion;

use super::world::{Shared, deps, healthy, other_cluster};
use super::{SOURCE, calls, run, setup};

/// Region-1 (dc-1, the source) and another region (dc-3, two nodes) already in the ring.
fn two_regions() -> Shared {
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        w.add_datacenter("dc-3", &["10.3.0.1", "10.3.0.2"], 1000, 101);
        w.host_counter = 200;
        for r in w.keyspaces.values_mut() {
            r.insert("dc-3".into(), 2);
        }
    }
    w
}

/// The plan adds dc-2 next to dc-1 and dc-3. The seeds come from the source datacenter, every
/// node rebuilds from it, dc-3 is kept in every keyspace, and verify sees the ring of three. A
/// plan that does not name dc-3 in `others` is warned that its overrides were not compared.
#[tokio::test]
async fn a_third_datacenter_is_added_next_to_two_and_none_is_dropped() {
    let s = setup("");
    let w = two_regions();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    let warned = rec.findings("unnamed-datacenter");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("`dc-3`") && warned[0].contains("others"), "{}", warned[0]);
    assert_eq!(report.seed_host.as_deref(), Some("10.1.0.1"), "a seed of the source datacenter");
    assert!(report.seed_alternates.iter().all(|a| a.starts_with("10.1.")), "{:?}", report.seed_alternates);
    let verify = report.verify.unwrap();
    assert!(verify.passed(), "{:?}", verify.failures());
    assert!(verify.checks.iter().any(|c| c.name == "all-up-from-source" && c.detail.starts_with("6 nodes")));
    assert_eq!(calls(&w, "rebuild "), 2);
    let w = w.lock().unwrap();
    assert!(w.logs.values().filter(|l| l.contains("rebuild from dc")).all(|l| l.contains("rebuild from dc: dc-1")));
    for (ks, r) in &w.keyspaces {
        assert_eq!(r.keys().map(String::as_str).collect::<Vec<_>>(), ["dc-1", "dc-2", "dc-3"], "{ks}");
    }
}

/// With dc-3's overrides named in `others`, the new region's file is compared with it too: a JMX
/// password that matches the source's but not dc-3's is refused before anything changes, and
/// the finding says which region it compared with. Once dc-3's file agrees, nothing is warned.
#[tokio::test]
async fn the_other_regions_overrides_are_checked_against_the_new_one() {
    let s = setup("others: [{overrides: south.yaml, datacenter: dc-3}]\n");
    let south = s.plan.base_dir.join("south.yaml");
    std::fs::write(&south, SOURCE.replace("dc-1", "dc-3").replace("s3cret-jmx-pw", "rotated-in-dc-3")).unwrap();
    let w = two_regions();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings: all }) = r else { panic!("not refused: {r:?}") };
    let refused: Vec<_> = all.into_iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code, "credentials-mismatch");
    assert!(
        refused[0].message.contains("compared with `dc-3`'s overrides") && refused[0].message.contains("south.yaml")
    );
    assert!(!rec.json().contains("rotated-in-dc-3") && !rec.json().contains("s3cret-jmx-pw"), "no password shown");
    assert_eq!(calls(&w, "installer "), 0, "nothing installed");

    std::fs::write(&south, SOURCE.replace("dc-1", "dc-3")).unwrap();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    assert!(r.unwrap().verify.unwrap().passed());
    assert!(rec.findings("unnamed-datacenter").is_empty());
}

/// A datacenter named in `others` that the ring does not have is refused (a typo, or a region
/// already removed).
#[tokio::test]
async fn an_other_region_missing_from_the_ring_is_refused() {
    let s = setup("others: [{overrides: south.yaml, datacenter: dc-4}]\n");
    std::fs::write(s.plan.base_dir.join("south.yaml"), SOURCE.replace("dc-1", "dc-4")).unwrap();
    let w = two_regions();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    assert!(matches!(r, Err(ExpansionError::Refused { .. })), "{r:?}");
    let missing = rec.findings("other-datacenter-missing");
    assert!(missing.len() == 1 && missing[0].contains("`dc-4`") && missing[0].contains("dc-1, dc-3"), "{missing:?}");
    assert_eq!(rec.findings("unnamed-datacenter").len(), 1, "dc-3 is still not named");
}

/// An `others` entry whose file names another datacenter is refused (the wrong file, or the
/// wrong name); a problem in the other region's own file is reported even when the source's file
/// has the same one.
#[tokio::test]
async fn an_other_region_s_own_file_is_judged_on_its_own() {
    let s = setup("others: [{overrides: south.yaml, datacenter: dc-3}]\n");
    let south = s.plan.base_dir.join("south.yaml");
    std::fs::write(&south, SOURCE.replace("dc-1", "dc-4")).unwrap();
    let w = two_regions();
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    let f: Vec<_> = findings.iter().filter(|f| f.code == "other-datacenter-mismatch").collect();
    assert_eq!(f.len(), 1, "{findings:?}");
    assert!(f[0].message.contains("`dc-3`") && f[0].message.contains("`dc-4`") && f[0].message.contains("south.yaml"));

    // Both existing files still carry a seed host from an earlier expansion: each is named.
    let seeded = |text: &str| text.replace("  datacenter:", "  multiRegionSeedHost: 10.9.9.9\n  datacenter:");
    std::fs::write(s.plan.base_dir.join("east.yaml"), seeded(SOURCE)).unwrap();
    std::fs::write(&south, seeded(&SOURCE.replace("dc-1", "dc-3"))).unwrap();
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    let f: Vec<_> = findings.iter().filter(|f| f.code == "seed-host-present").collect();
    assert_eq!(f.len(), 2, "{findings:?}");
    assert!(f[1].message.contains("in `dc-3`'s overrides"), "{}", f[1].message);
}

/// With a context for dc-3 (`others[].context`), the ring is read from dc-3's own cluster too:
/// verify checks it from that side, and a node that only dc-3 sees down fails it, naming dc-3.
/// When dc-3's ring cannot be read, preflight refuses before anything changes.
#[tokio::test]
async fn the_third_region_s_own_view_of_the_ring_is_verified() {
    let s = setup("others: [{overrides: south.yaml, datacenter: dc-3, context: region-3}]\n");
    std::fs::write(s.plan.base_dir.join("south.yaml"), SOURCE.replace("dc-1", "dc-3")).unwrap();
    let w = two_regions();
    let mut d = deps(&w);
    d.others = vec![other_cluster(&w, "dc-3", 0)];
    let rec = super::Recorder::default();
    let report = expansion::run(&s.plan, &d, &RunOptions::default(), &rec.sink()).await.unwrap();
    let verify = report.verify.unwrap();
    assert!(verify.passed(), "{:?}", verify.failures());
    for name in ["all-up-from-dc-3", "target-dc-complete-from-dc-3", "same-ring-from-dc-3"] {
        assert!(verify.checks.iter().any(|c| c.name == name), "{name}: {:?}", verify.checks);
    }
    assert!(calls(&w, "other status") >= 2, "read in preflight and in verify");

    // dc-3 sees a new node down that the source and target see up: verify fails, from dc-3.
    w.lock().unwrap().down_from_other = vec!["10.2.0.1".into()];
    let v = expansion::verify_only(&s.plan, &d, None).await.unwrap();
    assert_eq!(v.failures()[0], "all-up-from-dc-3: 10.2.0.1 (dc-2) is DN", "{:?}", v.failures());

    // A region with no ready Cassandra pod there (a wrong context): refused in preflight,
    // nothing changed.
    let s = setup("others: [{overrides: south.yaml, datacenter: dc-3, context: region-3}]\n");
    std::fs::write(s.plan.base_dir.join("south.yaml"), SOURCE.replace("dc-1", "dc-3")).unwrap();
    let w = two_regions();
    let mut d = deps(&w);
    d.others = vec![other_cluster(&w, "dc-3", 1)]; // the new region's pods: none yet
    let rec = super::Recorder::default();
    let r = expansion::run(&s.plan, &d, &RunOptions::default(), &rec.sink()).await;
    assert!(matches!(r, Err(ExpansionError::Refused { .. })), "{r:?}");
    let f = rec.findings("other-region-unreadable");
    assert!(f.len() == 1 && f[0].contains("datacenter `dc-3`") && f[0].contains("cannot be read"), "{f:?}");
    assert_eq!(calls(&w, "installer "), 0, "nothing installed");
}
