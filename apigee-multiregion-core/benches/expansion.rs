//! The engine's own overhead: a whole expansion on the in-memory fakes (`tests/engine/world.rs`)
//! where every cluster call and every nodetool call sleeps a fixed latency
//! (`tests/engine/latency.rs`; 50 ms by default, like a `kubectl exec` with a warm JVM), for
//! N source and N target nodes. Nothing streams and nothing installs: what is measured is the
//! engine's calls, their order and their fan-out. The plan rebuilds every node at once
//! (`rebuild.concurrency: all`), so the polling fans out as far as it can, and keeps
//! `limits.exec_per_cluster` at its default (8).
//!
//! Before each size is measured, one run is metered and printed: wall time, time per node, the
//! nodetool execs per cluster and the most that ran at once (checked against the bound), and each
//! step's time.
//!
//! `cargo bench -p apigee-multiregion-core --bench expansion`; `EXPANSION_BENCH_LATENCY_MS` and
//! `EXPANSION_BENCH_EXEC_BOUND` change the latency and the bound.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a failed unwrap is a failed run

#[allow(dead_code)]
#[path = "../tests/engine/latency.rs"]
mod latency;
#[allow(dead_code)]
#[path = "../tests/engine/world.rs"]
mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use apigee_multiregion_core::expansion::{self, Event, ExpansionPlan, ExpansionReport, Region, RunOptions};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 4] = [10, 25, 50, 100];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn overrides(n: usize, instance: &str, dc: Option<&str>) -> String {
    let dc = dc.map(|d| format!("  datacenter: {d}\n")).unwrap_or_default();
    format!(
        "org: org\ninstanceID: {instance}\ncassandra:\n  hostNetwork: true\n  replicaCount: {n}\n{dc}  auth:\n    jmx: {{username: jmxuser, password: \"s3cret-jmx-pw\"}}\n"
    )
}

/// A healthy region-1 of `n` nodes and an empty region-2 whose overrides ask for `n` nodes.
fn setup(n: usize, bound: u64) -> (tempfile::TempDir, ExpansionPlan, world::Shared) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("east.yaml"), overrides(n, "east", Some("dc-1"))).unwrap();
    std::fs::write(dir.path().join("west.yaml"), overrides(n, "west", None)).unwrap();
    let text = format!(
        "name: bench\nsource: {{context: region-1, overrides: east.yaml, datacenter: dc-1}}\ntarget: {{context: region-2, overrides: west.yaml, datacenter: dc-2}}\ninstaller: {{kind: apigeectl}}\nrebuild: {{concurrency: all, progress_interval: 10ms, retry_backoff: 10ms}}\ntimeouts: {{poll: 10ms, join: 10m, replication: 10m}}\nlimits: {{exec_per_cluster: {bound}}}\n"
    );
    let plan = ExpansionPlan::from_str_at(&text, "plan.yaml", dir.path().to_path_buf()).unwrap();
    let w = world::healthy();
    {
        let mut g = w.lock().unwrap();
        for i in g.source_pods.len()..n {
            let ip = format!("10.1.0.{}", i + 1);
            g.source_pods.push(world::pod(u32::try_from(i).unwrap(), &ip));
            g.ring.push(world::RingNode {
                dc: "dc-1".into(),
                address: ip,
                code: "UN",
                load_kib: 1000,
                host_id: u32::try_from(i + 1).unwrap(),
            });
            g.logs
                .insert(format!("s/apigee-cassandra-default-{i}"), "INFO Starting listening for CQL clients\n".into());
        }
    }
    (dir, plan, w)
}

async fn expand(n: usize, latency: Duration, bound: u64) -> (Duration, ExpansionReport, Arc<latency::Meter>) {
    let (_dir, plan, w) = setup(n, bound);
    let meter = Arc::new(latency::Meter::default());
    let deps = latency::slow(world::deps(&w), latency, meter.clone());
    let sink = |_: Event| {};
    let t = Instant::now();
    let report = expansion::run(&plan, &deps, &RunOptions::default(), &sink).await.unwrap();
    let took = t.elapsed();
    assert!(report.verify.as_ref().is_some_and(|v| v.passed()), "the expansion of {n} nodes verified");
    (took, report, meter)
}

fn bench(c: &mut Criterion) {
    let latency = Duration::from_millis(env_or("EXPANSION_BENCH_LATENCY_MS", 50));
    let bound = env_or("EXPANSION_BENCH_EXEC_BOUND", 8);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group(format!("expansion/{}ms-per-call/bound-{bound}", latency.as_millis()));
    group.sample_size(10).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
    for n in SIZES {
        let (took, report, meter) = rt.block_on(expand(n, latency, bound));
        let (s, t) = (meter.of(Region::Source), meter.of(Region::Target));
        let bound_usize = usize::try_from(bound).unwrap();
        assert!(
            s.max_short <= bound_usize && t.max_short <= bound_usize,
            "at most {bound} nodetool execs at once per cluster: source {s:?}, target {t:?}"
        );
        let steps: Vec<String> = report.steps.iter().map(|st| format!("{}={}ms", st.id, st.duration_ms)).collect();
        println!(
            "nodes={n}+{n} wall={:.2}s per-target-node={:.1}ms execs source={} target={} max-at-once source={} target={} (bound {bound}) rebuilds-at-once={} steps: {}",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / n as f64,
            s.total,
            t.total,
            s.max_short,
            t.max_short,
            t.max_long,
            steps.join(" ")
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += expand(n, latency, bound).await.0;
                    }
                    total
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
