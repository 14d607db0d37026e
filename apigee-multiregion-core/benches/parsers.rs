//! Benchmarks: `nodetool status` of a 3-datacenter, 1,000-node ring, and a seed-host edit of a
//! 5,000-line overrides file (targets in docs/performance.md: < 1 ms and < 5 ms).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::hint::black_box;

use apigee_multiregion_core::nodetool::parse_status;
use apigee_multiregion_core::overrides::OverridesDoc;
use criterion::{Criterion, criterion_group, criterion_main};

fn big_ring() -> String {
    let mut t = String::new();
    for dc in 1..=3 {
        t.push_str(&format!("Datacenter: dc-{dc}\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address        Load        Tokens  Owns (effective)  Host ID                               Rack\n"));
        for n in 0..334 {
            t.push_str(&format!(
                "UN  10.{dc}.{}.{}  {}.{} GiB  16      33.3%             {:08x}-4543-4e50-ae6f-a9a9cb720b7c  ra-{}\n",
                n / 250,
                n % 250,
                100 + n,
                n % 100,
                dc * 1000 + n,
                n % 3 + 1
            ));
        }
    }
    t
}

fn big_overrides() -> String {
    let mut t = String::from("# a large overrides file\ngcp:\n  region: us-east1\n");
    for e in 0..1250 {
        t.push_str(&format!("env{e}:\n  name: \"environment-{e}\"   # comment {e}\n  serviceAccountPath: ./sa/{e}.json\n  enabled: true\n"));
    }
    t.push_str("cassandra:\n  hostNetwork: true\n  datacenter: \"dc-2\"\n  rack: 'ra-1'\n");
    t
}

fn benches(c: &mut Criterion) {
    let ring = big_ring();
    assert_eq!(parse_status(&ring).map(|r| r.nodes().count()).ok(), Some(1002));
    c.bench_function("parse_status 3 DC x 334 nodes", |b| b.iter(|| parse_status(black_box(&ring))));

    let text = big_overrides();
    assert!(text.lines().count() >= 5000);
    c.bench_function("parse overrides 5000 lines", |b| b.iter(|| OverridesDoc::parse(black_box(&text))));
    let doc = OverridesDoc::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("set_seed_host on 5000 lines (edit + verification)", |b| {
        b.iter_batched(
            || OverridesDoc::parse(&text).unwrap_or_else(|e| panic!("{e}")),
            |mut d| d.set_seed_host(black_box("10.1.0.4")),
            criterion::BatchSize::LargeInput,
        )
    });
    drop(doc);
}

criterion_group! {
    name = parsers;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(parsers);
