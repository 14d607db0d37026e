//! Properties: the parsers never panic, whatever the input; an edit changes only the edited key,
//! and set-then-clear of the seed host gives back the original bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use apigee_multiregion_core::nodetool::{
    StreamLimit, check_replication, classify_rebuild_failure, evidence_from_describecluster, evidence_from_rings,
    last_full_rebuild_outcome, last_rebuild_outcome, needs_mebibytes, parse_describecluster, parse_describering,
    parse_info, parse_netstats, parse_removal_status, parse_status, parse_stream_throughput, parse_tablestats,
    scan_rebuild_log,
};
use apigee_multiregion_core::overrides::OverridesDoc;
use proptest::prelude::*;

const FIXTURES: [&str; 11] = [
    include_str!("fixtures/status-5.0-2dc-sandbox.txt"),
    include_str!("fixtures/describecluster-5.0-2dc-sandbox.txt"),
    include_str!("fixtures/netstats-rebuild-cassandra-4x-SYNTHETIC-from-source.txt"),
    include_str!("fixtures/log-rebuild-success-5.0-sandbox.txt"),
    include_str!("fixtures/describering-3.11-2dc-kvm-replicated-SYNTHETIC-from-source.txt"),
    include_str!("fixtures/describering-4.0-2dc-print-port-SYNTHETIC-from-source.txt"),
    include_str!("fixtures/tablestats-3.11-apigee-keyspaces-SYNTHETIC-from-source.txt"),
    include_str!("fixtures/info-3.11-mykubernetes.txt"),
    include_str!("fixtures/status-3.11-3dc-no-blank-lines-multicasskop-gke.txt"),
    include_str!("fixtures/log-rebuild-3.11-full-then-keyspace-scoped-SYNTHETIC-from-source.txt"),
    include_str!("fixtures/rebuild-insufficient-sources-3.11-SYNTHETIC-from-source.txt"),
];

fn all_parsers(text: &str) {
    let _ = parse_status(text);
    let _ = parse_netstats(text);
    let _ = parse_describecluster(text);
    let _ = parse_info(text);
    let _ = parse_tablestats(text);
    let _ = parse_removal_status(text);
    let _ = needs_mebibytes(text);
    for limit in [StreamLimit::InterDc, StreamLimit::Total] {
        let _ = parse_stream_throughput(limit, text);
    }
    let _ = classify_rebuild_failure(text);
    let events = scan_rebuild_log(text);
    let _ = last_rebuild_outcome(&events, "dc-1");
    let _ = last_full_rebuild_outcome(&events, "dc-1");
    if let Ok(ring) = parse_describering(text) {
        let _ = check_replication(&evidence_from_rings([("ks", ring)]), "dc-2", "dc-1");
    }
    if let Ok(d) = parse_describecluster(text) {
        let _ = check_replication(&evidence_from_describecluster(&d), "dc-2", "dc-1");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parsers_never_panic_on_arbitrary_text(text in "\\PC{0,400}") {
        all_parsers(&text);
    }

    #[test]
    fn parsers_never_panic_on_damaged_real_output(which in 0usize..FIXTURES.len(), cut in 0usize..20000, junk in "[ \\t%/:.#0-9A-Za-z\\n(),\\[\\]-]{0,40}") {
        let f = FIXTURES[which];
        let mut at = cut.min(f.len());
        while !f.is_char_boundary(at) { at -= 1; }
        let damaged = format!("{}{}{}", &f[..at], junk, &f[at..]);
        all_parsers(&damaged);
    }

    #[test]
    fn describering_never_panics_on_range_like_lines(
        line in "\tTokenRange\\(start_token:[-0-9]{0,5}, end_token:[0-9]{0,3}, endpoints:\\[[\\[\\]0-9.:, ]{0,20}\\][ -~]{0,80}"
    ) {
        if let Ok(ring) = parse_describering(&format!("TokenRange: \n{line}\n")) {
            let _ = check_replication(&evidence_from_rings([("ks", ring)]), "dc-2", "dc-1");
        }
        let _ = parse_describering(&format!("TokenRange: \n{line}, endpoint_details:[EndpointDetails(host:{line})])\n"));
    }

    #[test]
    fn rebuild_lines_never_panic(rest in "[ -~]{0,80}") {
        let events = scan_rebuild_log(&format!("rebuild from dc: {rest}\nUnable to find sufficient sources for streaming range {rest}\n"));
        let _ = last_full_rebuild_outcome(&events, "dc-1");
        let _ = classify_rebuild_failure(&format!("Provided datacenter '{rest}"));
    }

    #[test]
    fn overrides_parsing_never_panics(text in "[a-z:\\- \\n#'\"{}\\[\\],&*|>0-9\\t]{0,300}") {
        if let Ok(mut d) = OverridesDoc::parse(&text) {
            let _ = d.set_seed_host("10.0.0.1");
            let _ = d.clear_seed_host();
        }
    }
}

#[derive(Debug, Clone)]
struct Doc {
    text: String,
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}".prop_map(|s| s),
        "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        "[a-z0-9]{0,8}".prop_map(|s| format!("'{s}'")),
        Just("true".to_owned()),
        (0u32..5000).prop_map(|n| n.to_string()),
    ]
}

fn document() -> impl Strategy<Value = Doc> {
    let entry = ("[a-z][a-zA-Z]{0,6}", scalar(), proptest::option::of("[a-z ]{0,10}"));
    let nested = proptest::collection::vec(("[a-z][a-zA-Z]{0,6}", scalar()), 1..4);
    let cassandra = proptest::collection::vec(
        (
            prop_oneof![Just("datacenter"), Just("rack"), Just("replicaCount"), Just("clusterName"), Just("note")],
            scalar(),
        ),
        0..4,
    );
    (
        proptest::collection::vec(entry, 0..6),
        proptest::option::of(("[a-z][a-z]{0,6}", nested)),
        proptest::option::of(cassandra),
        prop_oneof![Just(2usize), Just(4usize)],
        any::<bool>(),
        proptest::option::of("[a-z ]{1,20}"),
    )
        .prop_map(|(entries, block, cassandra, indent, crlf, header)| {
            let pad = " ".repeat(indent);
            let mut lines: Vec<String> = Vec::new();
            if let Some(h) = header {
                lines.push(format!("# {h}"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (k, v, c) in entries {
                let k = format!("top{k}");
                if !seen.insert(k.clone()) {
                    continue;
                }
                lines.push(match c {
                    Some(c) => format!("{k}: {v}   # {c}"),
                    None => format!("{k}: {v}"),
                });
            }
            if let Some((name, kv)) = block {
                lines.push(format!("blk{name}:"));
                let mut inner = std::collections::BTreeSet::new();
                for (k, v) in kv {
                    if inner.insert(k.clone()) {
                        lines.push(format!("{pad}{k}: {v}"));
                    }
                }
                lines.push(String::new());
            }
            if let Some(kv) = cassandra {
                lines.push("cassandra:".into());
                let mut inner = std::collections::BTreeSet::new();
                for (k, v) in kv {
                    let v = if k == "replicaCount" { "3".to_owned() } else { v };
                    if inner.insert(k) {
                        lines.push(format!("{pad}{k}: {v}"));
                    }
                }
            }
            let eol = if crlf { "\r\n" } else { "\n" };
            Doc { text: lines.iter().map(|l| format!("{l}{eol}")).collect() }
        })
}

fn meaning(text: &str) -> yaml_serde::Value {
    yaml_serde::from_str(text).unwrap_or(yaml_serde::Value::Null)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn setting_the_seed_changes_only_that_key_and_clearing_restores_the_bytes(doc in document(), a in 1u8..255, b in 1u8..255) {
        let Ok(mut d) = OverridesDoc::parse(&doc.text) else { return Ok(()) };
        let seed = format!("10.{a}.{b}.7");
        d.set_seed_host(&seed).unwrap();
        let mut expected = meaning(&doc.text);
        if expected.is_null() { expected = yaml_serde::Value::Mapping(Default::default()); }
        let root = expected.as_mapping_mut().unwrap();
        let section = root.entry("cassandra".into()).or_insert(yaml_serde::Value::Null);
        if section.is_null() { *section = yaml_serde::Value::Mapping(Default::default()); }
        section.as_mapping_mut().unwrap().insert("multiRegionSeedHost".into(), seed.clone().into());
        prop_assert_eq!(meaning(d.text()), expected);
        prop_assert!(d.clear_seed_host().unwrap());
        prop_assert_eq!(d.text(), doc.text.as_str());
    }

    #[test]
    fn setting_the_datacenter_changes_only_that_line(doc in document(), n in 2u8..9) {
        let Ok(mut d) = OverridesDoc::parse(&doc.text) else { return Ok(()) };
        let had = d.view().unwrap().cassandra.datacenter.is_some();
        let dc = apigee_multiregion_core::model::DatacenterName::new(format!("dc-{n}")).unwrap();
        d.set_datacenter(&dc).unwrap();
        let view = d.view().unwrap();
        prop_assert_eq!(view.cassandra.datacenter.as_deref(), Some(dc.as_str()));
        let before: Vec<&str> = doc.text.lines().collect();
        let after: Vec<&str> = d.text().lines().collect();
        let changed = after.len() as isize - before.len() as isize;
        if had {
            prop_assert_eq!(changed, 0);
            prop_assert_eq!(before.iter().zip(&after).filter(|(x, y)| x != y).count(), 1);
        } else {
            prop_assert!(changed == 1 || changed == 2, "one line added (two with a new section)");
            prop_assert!(before.iter().all(|l| after.contains(l)), "every original line is kept");
        }
    }
}
