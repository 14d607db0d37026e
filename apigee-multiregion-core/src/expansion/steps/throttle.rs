//! `rebuild.throughput`: stream throttles for the rebuild, always set back.
//!
//! Order, on every source node (they send) and every target node:
//! 1. read each throttle the plan sets (`get(interdc)streamthroughput`) on every node;
//! 2. journal those values (one write, before any change);
//! 3. set the plan's values;
//! 4. after the rebuild — succeeded, failed, or cancelled — set the journaled values back and mark
//!    each node `restored`.
//!
//! A record not restored means a run stopped between 2 and 4 (a crash, a kill). The node still
//! carries the tool's throttle, so its value is never read again as "the value before": the
//! resumed run keeps the journaled one, sets the plan's throttle again for its rebuild, and sets
//! the journaled one back when the rebuild step ends. A run that does not run the rebuild step
//! (it is already done, `--until` stops earlier, an earlier step fails, Ctrl-C) sets every
//! pending record back at its end ([`crate::expansion::run`]). A restore that fails leaves the
//! record pending for the next run; it is reported as a warning and an error that never replaces
//! the error that stopped the run.
//!
//! Without a `rebuild.throughput` section and without a pending record, no throttle is read or
//! set.

use crate::nodetool::{StreamLimit, Throughput};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::journal::ThroughputRecord;
use super::super::plan::{ExpansionPlan, ThroughputSpec};
use super::{Planned, StepId, nodetool_shown, planned_target_pods};

/// The plan's throttles as (limit, value to set).
fn wanted(spec: &ThroughputSpec) -> Vec<(StreamLimit, Throughput)> {
    let value = |m: u32| if m == 0 { Throughput::Unlimited } else { Throughput::Megabits(m) };
    [(StreamLimit::InterDc, spec.interdc_megabits), (StreamLimit::Total, spec.total_megabits)]
        .into_iter()
        .filter_map(|(l, v)| v.map(|v| (l, value(v))))
        .collect()
}

fn before_mut(r: &mut ThroughputRecord, limit: StreamLimit) -> &mut Option<Throughput> {
    match limit {
        StreamLimit::InterDc => &mut r.interdc_before,
        StreamLimit::Total => &mut r.total_before,
    }
}

/// A record's value before the change, for one limit.
fn before(r: &ThroughputRecord, limit: StreamLimit) -> Option<Throughput> {
    match limit {
        StreamLimit::InterDc => r.interdc_before,
        StreamLimit::Total => r.total_before,
    }
}

/// The (limit, value) pairs a record sets back.
fn to_restore(r: &ThroughputRecord) -> Vec<(StreamLimit, Throughput)> {
    [StreamLimit::InterDc, StreamLimit::Total].into_iter().filter_map(|l| before(r, l).map(|v| (l, v))).collect()
}

/// The nodetool commands that set a record back by hand.
fn by_hand(r: &ThroughputRecord) -> String {
    to_restore(r).iter().map(|(l, v)| format!("nodetool {}", set_args(*l, *v))).collect::<Vec<_>>().join("; ")
}

fn shown(values: &[(StreamLimit, Throughput)]) -> String {
    values.iter().map(|(l, v)| format!("{} {v}", l.label())).collect::<Vec<_>>().join(", ")
}

/// The nodetool arguments that set `value`.
fn set_args(limit: StreamLimit, value: Throughput) -> String {
    std::iter::once(limit.set_verb().to_owned()).chain(value.set_args()).collect::<Vec<_>>().join(" ")
}

/// Every Ready source pod and every target pod.
pub(crate) async fn nodes(ctx: &Ctx<'_>, targets: &[String]) -> Result<Vec<(Region, String)>, StepError> {
    let plan = ctx.plan;
    let source = ctx.deps.source.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
    Ok(source
        .into_iter()
        .filter(|p| p.ready)
        .map(|p| (Region::Source, p.name))
        .chain(targets.iter().map(|t| (Region::Target, t.clone())))
        .collect())
}

/// Steps 1 to 3: read, journal, set.
pub(crate) async fn apply(ctx: &Ctx<'_>, spec: &ThroughputSpec, nodes: &[(Region, String)]) -> Result<(), StepError> {
    let want = wanted(spec);
    let reads = nodes.iter().map(|(region, pod)| {
        let want = &want;
        async move {
            let key = ThroughputRecord::key(*region, pod);
            // A pending record holds the values from before a crashed run's change: keep them.
            let mut record =
                ctx.journal(|j| j.throughput.get(&key).filter(|r| !r.restored).cloned()).unwrap_or(ThroughputRecord {
                    region: *region,
                    pod: pod.clone(),
                    interdc_before: None,
                    total_before: None,
                    restored: false,
                });
            let admin = ctx.deps.admins.admin(*region, pod);
            for (limit, _) in want {
                if before_mut(&mut record, *limit).is_none() {
                    *before_mut(&mut record, *limit) = Some(admin.stream_throughput(*limit).await?);
                }
            }
            Ok::<_, StepError>((key, record))
        }
    });
    let mut records = Vec::new();
    for r in futures::future::join_all(reads).await {
        records.push(r?);
    }
    // Journaled before the first change.
    ctx.record(|j| j.throughput.extend(records.iter().cloned()))?;
    ctx.ensure_locked()?;
    let sets = records.iter().map(|(key, record)| {
        let want = &want;
        async move {
            let admin = ctx.deps.admins.admin(record.region, &record.pod);
            for (limit, value) in want {
                admin.set_stream_throughput(*limit, *value).await?;
            }
            let was: Vec<_> = want
                .iter()
                .map(|(l, _)| before(record, *l).map_or_else(|| "?".to_owned(), |b| b.to_string()))
                .collect();
            ctx.emit(Event::Note {
                step: StepId::Rebuild,
                message: format!("{key}: {} for the rebuild (was {})", shown(want), was.join(", ")),
            });
            Ok::<_, StepError>(())
        }
    });
    for r in futures::future::join_all(sets).await {
        r?;
    }
    Ok(())
}

/// Step 4: sets every pending record back. Each node set back is journaled at once; each
/// failure is a warning, and together they are the error.
pub(crate) async fn restore(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let pending = ctx.journal(|j| j.throughput_to_restore());
    if pending.is_empty() {
        return Ok(());
    }
    if let Err(lost) = ctx.ensure_locked() {
        // Not ours to change any more: say what is still throttled and how to set it back by
        // hand (the journal keeps the records for the next run too).
        for record in &pending {
            ctx.emit(Event::Warning {
                step: StepId::Rebuild,
                message: format!(
                    "{}: still carries the rebuild's stream throttle (the lock is lost, so it is not set back now); the next run sets it back, or by hand: {}",
                    ThroughputRecord::key(record.region, &record.pod),
                    by_hand(record)
                ),
            });
        }
        return Err(lost);
    }
    let sets = pending.iter().map(|record| async move {
        let admin = ctx.deps.admins.admin(record.region, &record.pod);
        for (limit, value) in to_restore(record) {
            admin.set_stream_throughput(limit, value).await?;
        }
        Ok::<_, StepError>(())
    });
    let results = futures::future::join_all(sets).await;
    let mut failures = Vec::new();
    for (record, r) in pending.iter().zip(results) {
        let key = ThroughputRecord::key(record.region, &record.pod);
        let values = to_restore(record);
        match r {
            Ok(()) => {
                ctx.record(|j| {
                    if let Some(r) = j.throughput.get_mut(&key) {
                        r.restored = true;
                    }
                })?;
                ctx.emit(Event::Note {
                    step: StepId::Rebuild,
                    message: format!("{key}: set back to {}", shown(&values)),
                });
            }
            Err(e) => {
                let msg = format!("{key}: cannot set the stream throughput back ({}): {e}", by_hand(record));
                ctx.emit(Event::Warning { step: StepId::Rebuild, message: msg.clone() });
                failures.push(msg);
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(StepError::ThroughputRestore { failures }) }
}

/// The rebuild's result, then the restore's: a restore failure never replaces the rebuild's
/// error (it was reported as a warning).
pub(crate) fn combine(result: Result<(), StepError>, restored: Result<(), StepError>) -> Result<(), StepError> {
    match (result, restored) {
        (Err(e), _) => Err(e),
        (Ok(()), r) => r,
    }
}

/// The dry run's actions: the set before the rebuild and the restore after it. A record a
/// crashed run left pending is shown with its journaled value.
pub(crate) fn describe(ctx: &Ctx<'_>) -> Result<(Option<Planned>, Option<Planned>), StepError> {
    let plan = ctx.plan;
    let pending = ctx.journal(|j| j.throughput_to_restore());
    let Some(spec) = &plan.rebuild.throughput else {
        if pending.is_empty() {
            return Ok((None, None));
        }
        return Ok((None, Some(restore_planned(plan, &pending, &[]))));
    };
    let want = wanted(spec);
    let (s, t) = (&plan.source, &plan.target);
    let pods = planned_target_pods(plan)?;
    let each = |args: &dyn Fn(StreamLimit, Throughput) -> String| {
        let mut c = Vec::new();
        for (limit, value) in &want {
            c.push(nodetool_shown(plan, &s.context, "<each source pod>", &args(*limit, *value)));
            c.extend(pods.iter().map(|p| nodetool_shown(plan, &t.context, p, &args(*limit, *value))));
        }
        c
    };
    let mut commands = each(&|l, _| l.get_verb().to_owned());
    commands.extend(each(&|l, v| set_args(l, v)));
    let set = Planned {
        description: format!(
            "read and journal the stream throughput of every {} and {} node, then set {} for the rebuild",
            s.datacenter,
            t.datacenter,
            shown(&want)
        ),
        commands,
    };
    let restore = restore_planned(plan, &pending, &each(&|l, _| format!("{} <the value read before>", l.set_verb())));
    Ok((Some(set), Some(restore)))
}

fn restore_planned(plan: &ExpansionPlan, pending: &[ThroughputRecord], generic: &[String]) -> Planned {
    let context = |r: Region| match r {
        Region::Source => &plan.source.context,
        Region::Target => &plan.target.context,
    };
    let mut commands: Vec<String> = pending
        .iter()
        .flat_map(|r| {
            to_restore(r)
                .into_iter()
                .map(move |(l, v)| nodetool_shown(plan, context(r.region), &r.pod, &set_args(l, v)))
        })
        .collect();
    commands.extend(generic.iter().cloned());
    Planned {
        description: format!(
            "after the rebuild (also after a failure or Ctrl-C), set the stream throughput back to the journaled values{}",
            if pending.is_empty() {
                String::new()
            } else {
                format!(" ({} node(s) still carry the throttle of an interrupted run)", pending.len())
            }
        ),
        commands,
    }
}
