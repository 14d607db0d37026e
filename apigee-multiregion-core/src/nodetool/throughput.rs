//! `nodetool getinterdcstreamthroughput` and `getstreamthroughput`: the stream throttles a
//! rebuild is subject to, as read before the tool changes them (so they can be set back).
//!
//! What each version prints (Cassandra's `tools/nodetool/Get*StreamThroughput.java`):
//! - 3.11 and 4.0: `Current inter-datacenter stream throughput: 200 Mb/s` and
//!   `Current stream throughput: 200 Mb/s`, an integer of megabits per second; `0 Mb/s` means
//!   unlimited.
//! - 4.1 and 5.0: the same line for an integer number of megabits, `...: unlimited` for 0, and
//!   a failure (`Use the -d flag ...`, or `... was set in MiB/s. You should use -m to get it`)
//!   when the value is not a whole number of megabits (5.0's default `stream_throughput_outbound:
//!   24MiB/s` is 201.326592 Mb/s). With `-m` they print `...: 24.0 MiB/s` (a Java double).
//! - Some 4.1 development builds wrote `200 megabits per second`; it is read as `Mb/s`.
//!
//! The set verbs take whole numbers only: megabits per second, or with `-m` (4.1+) mebibytes
//! per second. A value that neither can express exactly is refused by the parser, before the
//! tool changes anything, because it could not be set back.

use serde::{Deserialize, Serialize};

use super::{ParseError, first_line_hint};

/// Which stream throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamLimit {
    /// `inter_dc_stream_throughput_outbound`: streaming to another datacenter.
    InterDc,
    /// `stream_throughput_outbound`: all streaming of the node.
    Total,
}

impl StreamLimit {
    /// The nodetool verb that prints it.
    pub fn get_verb(self) -> &'static str {
        match self {
            Self::InterDc => "getinterdcstreamthroughput",
            Self::Total => "getstreamthroughput",
        }
    }

    /// The nodetool verb that sets it.
    pub fn set_verb(self) -> &'static str {
        match self {
            Self::InterDc => "setinterdcstreamthroughput",
            Self::Total => "setstreamthroughput",
        }
    }

    /// How it is named in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::InterDc => "inter-DC stream throughput",
            Self::Total => "stream throughput",
        }
    }

    /// The label nodetool prints before the value.
    fn printed(self) -> &'static str {
        match self {
            Self::InterDc => "Current inter-datacenter stream throughput:",
            Self::Total => "Current stream throughput:",
        }
    }
}

/// A stream throttle's value, in the unit nodetool can set it back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Throughput {
    /// No throttle (set with 0).
    Unlimited,
    /// Megabits per second (`set...streamthroughput N`, every version).
    Megabits(u32),
    /// Mebibytes per second (`set...streamthroughput -m N`, 4.1 and later).
    Mebibytes(u32),
}

impl Throughput {
    /// The arguments after the set verb.
    pub fn set_args(self) -> Vec<String> {
        match self {
            Self::Unlimited => vec!["0".into()],
            Self::Megabits(n) => vec![n.to_string()],
            Self::Mebibytes(n) => vec!["-m".into(), n.to_string()],
        }
    }
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unlimited => f.write_str("unlimited"),
            Self::Megabits(n) => write!(f, "{n} Mb/s"),
            Self::Mebibytes(n) => write!(f, "{n} MiB/s"),
        }
    }
}

/// Whether a failed get asks for `-m` (or `-d`): 4.1+ refuse to print a value that is not a
/// whole number of megabits.
pub fn needs_mebibytes(message: &str) -> bool {
    message.contains("-d flag") || message.contains("use -m")
}

/// Parses the output of `nodetool get(interdc)streamthroughput [-m]`.
pub fn parse_stream_throughput(limit: StreamLimit, text: &str) -> Result<Throughput, ParseError> {
    let what = match limit {
        StreamLimit::InterDc => "nodetool getinterdcstreamthroughput",
        StreamLimit::Total => "nodetool getstreamthroughput",
    };
    let Some((n, rest)) =
        text.lines().enumerate().find_map(|(i, l)| l.trim().strip_prefix(limit.printed()).map(|r| (i + 1, r.trim())))
    else {
        return Err(ParseError::new(
            what,
            1,
            format!("no `{}` line ({})", limit.printed().trim_end_matches(':'), first_line_hint(text)),
        ));
    };
    if rest == "unlimited" {
        return Ok(Throughput::Unlimited);
    }
    let (number, unit) = rest.split_once(' ').unwrap_or((rest, ""));
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| ParseError::new(what, n, format!("`{number}` is not a number (the line is `{rest}`)")))?;
    if value <= 0.0 {
        return Ok(Throughput::Unlimited); // 3.11 and 4.0 print 0 for no throttle
    }
    let whole = |v: f64| (v.fract() == 0.0 && v <= f64::from(u32::MAX)).then_some(v as u32);
    let exact = |unit: &str| {
        ParseError::new(
            what,
            n,
            format!(
                "the {} is {number} {unit}, which nodetool cannot set back exactly (it takes whole numbers); set it to a whole number of Mb/s on this node first (nodetool {} N), or remove rebuild.throughput from the plan",
                limit.label(),
                limit.set_verb()
            ),
        )
    };
    match unit.trim() {
        "Mb/s" | "megabits per second" => whole(value).map(Throughput::Megabits).ok_or_else(|| exact("Mb/s")),
        "MiB/s" => whole(value).map(Throughput::Mebibytes).ok_or_else(|| exact("MiB/s")),
        other => Err(ParseError::new(
            what,
            n,
            format!("unknown unit `{other}` (expected Mb/s, MiB/s or `unlimited`; the line is `{rest}`)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StreamLimit::{InterDc, Total};
    use Throughput::{Mebibytes, Megabits, Unlimited};

    #[test]
    fn reads_the_3_11_and_4_0_lines_where_0_means_unlimited() {
        let p = parse_stream_throughput;
        assert_eq!(p(InterDc, "Current inter-datacenter stream throughput: 200 Mb/s\n"), Ok(Megabits(200)));
        assert_eq!(p(Total, "Current stream throughput: 200 Mb/s\n"), Ok(Megabits(200)));
        assert_eq!(p(InterDc, "Current inter-datacenter stream throughput: 0 Mb/s\n"), Ok(Unlimited));
        assert_eq!(p(Total, "Current stream throughput: 0 Mb/s"), Ok(Unlimited));
    }

    #[test]
    fn reads_the_4_1_and_5_0_lines_unlimited_and_mebibytes() {
        let p = parse_stream_throughput;
        assert_eq!(p(InterDc, "Current inter-datacenter stream throughput: unlimited\n"), Ok(Unlimited));
        assert_eq!(p(Total, "Current stream throughput: unlimited\n"), Ok(Unlimited));
        assert_eq!(p(Total, "Current stream throughput: 24.0 MiB/s\n"), Ok(Mebibytes(24)));
        assert_eq!(p(InterDc, "Current inter-datacenter stream throughput: 3.0 MiB/s\n"), Ok(Mebibytes(3)));
        assert_eq!(p(Total, "Current stream throughput: 200.0 Mb/s\n"), Ok(Megabits(200)));
        assert_eq!(p(Total, "Current stream throughput: 7 megabits per second\n"), Ok(Megabits(7)));
        assert_eq!(p(Total, "Current stream throughput: 1.0E7 Mb/s\n"), Ok(Megabits(10_000_000)));
    }

    #[test]
    fn the_label_must_be_the_limits_own_and_noise_is_skipped() {
        let p = parse_stream_throughput;
        let both = "Defaulted container\nCurrent entire SSTable inter-datacenter stream throughput: 5 MiB/s\nCurrent inter-datacenter stream throughput: 50 Mb/s\n";
        assert_eq!(p(InterDc, both), Ok(Megabits(50)));
        let e = p(InterDc, "Current stream throughput: 200 Mb/s\n").unwrap_err();
        assert!(e.message.contains("no `Current inter-datacenter stream throughput` line"), "{e}");
        let e = p(Total, "nodetool: Failed to connect to '127.0.0.1:7199'\n").unwrap_err();
        assert!(e.to_string().contains("it starts with `nodetool: Failed to connect"), "{e}");
    }

    #[test]
    fn a_value_that_cannot_be_set_back_exactly_is_refused_with_what_to_do() {
        let e = parse_stream_throughput(Total, "Current stream throughput: 201.326592 Mb/s\n").unwrap_err();
        assert!(e.message.contains("201.326592 Mb/s") && e.message.contains("remove rebuild.throughput"), "{e}");
        let e =
            parse_stream_throughput(InterDc, "Current inter-datacenter stream throughput: 0.5 MiB/s\n").unwrap_err();
        assert!(e.message.contains("nodetool setinterdcstreamthroughput N"), "{e}");
        let e = parse_stream_throughput(Total, "Current stream throughput: 200 MB/s\n").unwrap_err();
        assert!(e.message.contains("unknown unit `MB/s`"), "{e}");
        let e = parse_stream_throughput(Total, "Current stream throughput: lots Mb/s\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn the_4_1_refusals_ask_for_mebibytes() {
        assert!(needs_mebibytes(
            "error: Use the -d flag to quiet this error and get the exact throughput in megabits/s"
        ));
        assert!(needs_mebibytes(
            "The current inter-datacenter stream throughput was set in MiB/s. You should use -m to get it"
        ));
        assert!(!needs_mebibytes("Failed to connect"));
    }

    #[test]
    fn set_arguments_per_unit() {
        assert_eq!(Unlimited.set_args(), ["0"]);
        assert_eq!(Megabits(50).set_args(), ["50"]);
        assert_eq!(Mebibytes(24).set_args(), ["-m", "24"]);
        assert_eq!(serde_json::to_string(&Megabits(50)).unwrap(), r#"{"megabits":50}"#);
        assert_eq!(serde_json::to_string(&Unlimited).unwrap(), r#""unlimited""#);
    }
}
