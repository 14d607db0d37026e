//! CIDR blocks and the overlap check between two regions' node, pod and service ranges.
//!
//! Apigee's multi-region setup needs non-overlapping CIDR blocks in every region: Cassandra
//! nodes address each other directly, so an overlap sends gossip to the wrong host.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;

/// An IPv4 or IPv6 network, `10.0.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A CIDR string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a CIDR block: {reason} (expected something like `10.0.0.0/16`)")]
pub struct CidrError {
    /// The refused text.
    pub input: String,
    /// Why.
    pub reason: &'static str,
}

fn to_bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// The top `prefix` bits of a `width`-bit number set.
fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(width))
}

impl Cidr {
    /// The block's first address, with host bits cleared.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn bits(&self) -> (u128, u128, u8) {
        let (value, width) = to_bits(self.network);
        (value, mask(self.prefix, width), width)
    }

    /// Whether `ip` is inside this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, m, width) = self.bits();
        let (value, w) = to_bits(ip);
        w == width && value & m == net
    }

    /// Whether the two blocks share at least one address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let (a, am, aw) = self.bits();
        let (b, bm, bw) = other.bits();
        // The shorter prefix's mask decides: one block contains the other's network address.
        aw == bw && (a & (am & bm)) == (b & (am & bm))
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| CidrError { input: s.to_owned(), reason };
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(|| err("no `/prefix`"))?;
        let ip: IpAddr = addr.parse().map_err(|_| err("the address is not an IP address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| err("the prefix is not a number"))?;
        let (value, width) = to_bits(ip);
        if prefix > width {
            return Err(err("the prefix is longer than the address"));
        }
        let net = value & mask(prefix, width);
        let network = match ip {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(net as u32)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(net)),
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a range is used for in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeKind {
    /// Node (VNet / subnet) addresses.
    Node,
    /// Pod addresses.
    Pod,
    /// Service cluster IPs.
    Service,
}

/// A named range of one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionRange {
    /// What the range is for.
    pub kind: RangeKind,
    /// The block.
    pub cidr: Cidr,
}

/// Two ranges of different regions that overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    /// The source region's range.
    pub source: RegionRange,
    /// The target region's range.
    pub target: RegionRange,
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "source {:?} range {} overlaps target {:?} range {}",
            self.source.kind, self.source.cidr, self.target.kind, self.target.cidr
        )
    }
}

/// Every pair of ranges, one from each region, that overlap.
pub fn overlaps(source: &[RegionRange], target: &[RegionRange]) -> Vec<Overlap> {
    source
        .iter()
        .flat_map(|s| target.iter().map(move |t| (s, t)))
        .filter(|(s, t)| s.cidr.overlaps(&t.cidr))
        .map(|(s, t)| Overlap { source: s.clone(), target: t.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn clears_host_bits_and_prints_the_network() {
        assert_eq!(c("10.1.2.3/16").to_string(), "10.1.0.0/16");
        assert_eq!(c("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(c("fd00::1/64").to_string(), "fd00::/64");
        assert_eq!(c("10.1.2.3/32").to_string(), "10.1.2.3/32");
    }

    #[test]
    fn nested_and_equal_blocks_overlap_disjoint_do_not() {
        assert!(c("10.0.0.0/8").overlaps(&c("10.20.0.0/16")));
        assert!(c("10.20.0.0/16").overlaps(&c("10.0.0.0/8")));
        assert!(c("10.0.0.0/16").overlaps(&c("10.0.0.0/16")));
        assert!(!c("10.0.0.0/16").overlaps(&c("10.1.0.0/16")));
        assert!(!c("10.0.0.0/8").overlaps(&c("fd00::/8")));
    }

    #[test]
    fn contains_checks_the_prefix() {
        assert!(c("127.0.1.0/24").contains("127.0.1.9".parse().unwrap()));
        assert!(!c("127.0.1.0/24").contains("127.0.2.9".parse().unwrap()));
    }

    #[test]
    fn refuses_bad_blocks_with_the_reason() {
        assert!(Cidr::from_str("10.0.0.0").unwrap_err().to_string().contains("no `/prefix`"));
        assert!(Cidr::from_str("10.0.0.0/33").is_err());
        assert!(Cidr::from_str("ten/8").is_err());
    }

    #[test]
    fn reports_each_overlapping_pair_between_regions() {
        let s = vec![RegionRange { kind: RangeKind::Pod, cidr: c("10.244.0.0/16") }];
        let t = vec![
            RegionRange { kind: RangeKind::Pod, cidr: c("10.244.0.0/16") },
            RegionRange { kind: RangeKind::Node, cidr: c("10.2.0.0/16") },
        ];
        let found = overlaps(&s, &t);
        assert_eq!(found.len(), 1);
        assert!(found[0].to_string().contains("10.244.0.0/16"));
    }
}
