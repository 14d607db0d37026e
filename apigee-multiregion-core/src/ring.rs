//! Judgements over the ring as `nodetool status` shows it from each side: have the new nodes
//! joined, as the right datacenter, and is every node Up/Normal. Pure: the engine gathers the
//! views, this decides.

use crate::nodetool::StatusReport;

/// Whether the new datacenter has joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinVerdict {
    /// Every expected node is UN under the target datacenter from every side that was asked.
    Joined {
        /// How many new nodes.
        nodes: usize,
    },
    /// Not yet; what is missing.
    Waiting(String),
}

/// A new node joined under another datacenter name: never rebuild then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} joined as datacenter `{found}`, but the plan says `{expected}`")]
pub struct WrongDatacenter {
    /// The node.
    pub address: String,
    /// The datacenter it joined as.
    pub found: String,
    /// The plan's.
    pub expected: String,
}

/// One side's view of the ring: its name (`source`, `target`) and `nodetool status`, or why it
/// could not be read.
pub type SideView<'a> = (&'a str, Result<&'a StatusReport, String>);

/// Judges the join. `want` is the target's `replicaCount`, `ready` the addresses of the target
/// pods that are Ready.
pub fn judge_join(
    want: usize,
    ready: &[String],
    views: &[SideView<'_>],
    target_dc: &str,
) -> Result<JoinVerdict, WrongDatacenter> {
    if ready.len() < want {
        return Ok(JoinVerdict::Waiting(format!("{} of {want} target pods are Ready", ready.len())));
    }
    for (side, view) in views {
        let view = match view {
            Ok(v) => v,
            Err(e) => return Ok(JoinVerdict::Waiting(format!("nodetool status from the {side} failed: {e}"))),
        };
        for a in ready {
            match view.find_address(a) {
                None => return Ok(JoinVerdict::Waiting(format!("the {side} does not see {a} in the ring yet"))),
                Some((dc, _)) if dc != target_dc => {
                    return Err(WrongDatacenter {
                        address: a.clone(),
                        found: dc.to_owned(),
                        expected: target_dc.to_owned(),
                    });
                }
                Some((_, n)) if !n.is_up_normal() => {
                    return Ok(JoinVerdict::Waiting(format!("{a} is {} seen from the {side}", n.code())));
                }
                Some(_) => {}
            }
        }
        if let Some((dc, n)) = view.nodes().find(|(_, n)| !n.is_up_normal()) {
            return Ok(JoinVerdict::Waiting(format!("{} ({dc}) is {} seen from the {side}", n.address, n.code())));
        }
    }
    Ok(JoinVerdict::Joined { nodes: ready.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::parse_status;

    const TWO_DC: &str = "Datacenter: dc-1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address    Load       Tokens  Owns (effective)  Host ID                               Rack
UN  10.0.1.1   1.2 MiB    256     100.0%            6d194555-f6eb-41d0-c000-000000000001  ra-1
Datacenter: dc-2
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address    Load       Tokens  Owns (effective)  Host ID                               Rack
UN  10.0.2.1   1.1 MiB    256     100.0%            6d194555-f6eb-41d0-c000-000000000002  ra-1
";

    fn ready() -> Vec<String> {
        vec!["10.0.2.1".to_owned()]
    }

    #[test]
    fn joins_when_both_sides_see_every_new_node_up_normal() {
        let s = parse_status(TWO_DC).unwrap();
        let v = judge_join(1, &ready(), &[("source", Ok(&s)), ("target", Ok(&s))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Joined { nodes: 1 });
    }

    #[test]
    fn waits_for_pods_before_asking_the_ring() {
        let s = parse_status(TWO_DC).unwrap();
        let v = judge_join(2, &ready(), &[("source", Ok(&s))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Waiting("1 of 2 target pods are Ready".into()));
    }

    #[test]
    fn a_joining_node_is_waited_for() {
        let s = parse_status(&TWO_DC.replace("UN  10.0.2.1", "UJ  10.0.2.1")).unwrap();
        let v = judge_join(1, &ready(), &[("source", Ok(&s))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Waiting("10.0.2.1 is UJ seen from the source".into()));
    }

    #[test]
    fn a_node_the_source_does_not_see_is_waited_for() {
        let s = parse_status(TWO_DC).unwrap();
        let v = judge_join(1, &["10.0.2.9".to_owned()], &[("source", Ok(&s))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Waiting("the source does not see 10.0.2.9 in the ring yet".into()));
    }

    #[test]
    fn a_node_under_another_datacenter_is_refused() {
        let s = parse_status(TWO_DC).unwrap();
        let e = judge_join(1, &ready(), &[("target", Ok(&s))], "dc-3").unwrap_err();
        assert_eq!(e, WrongDatacenter { address: "10.0.2.1".into(), found: "dc-2".into(), expected: "dc-3".into() });
    }

    #[test]
    fn a_down_source_node_is_waited_for() {
        let s = parse_status(&TWO_DC.replace("UN  10.0.1.1", "DN  10.0.1.1")).unwrap();
        let v = judge_join(1, &ready(), &[("target", Ok(&s))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Waiting("10.0.1.1 (dc-1) is DN seen from the target".into()));
    }

    #[test]
    fn an_unreadable_side_is_waited_for() {
        let v = judge_join(1, &ready(), &[("source", Err("JMX down".into()))], "dc-2").unwrap();
        assert_eq!(v, JoinVerdict::Waiting("nodetool status from the source failed: JMX down".into()));
    }
}
