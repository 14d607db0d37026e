//! Sizes as nodetool prints them (`1.88 MB`, `211.95 KiB`, `104857600 bytes`).

/// Parses a size with its unit into bytes. Every unit is a power of 1024, whether spelled `KB`
/// or `KiB`, because that is how Cassandra's `FileUtils.stringifyFileSize` computes them.
/// Returns `None` for `?` or anything that is not a size.
pub fn parse_size(number: &str, unit: &str) -> Option<u64> {
    let value: f64 = number.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let power = match unit.to_ascii_lowercase().as_str() {
        "b" | "byte" | "bytes" => 0,
        "kb" | "kib" => 1,
        "mb" | "mib" => 2,
        "gb" | "gib" => 3,
        "tb" | "tib" => 4,
        "pb" | "pib" => 5,
        _ => return None,
    };
    let bytes = value * 1024f64.powi(power);
    if bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn units_are_powers_of_1024() {
        assert_eq!(parse_size("1", "KB"), Some(1024));
        assert_eq!(parse_size("1", "KiB"), Some(1024));
        assert_eq!(parse_size("1.5", "MiB"), Some(1_572_864));
        assert_eq!(parse_size("2", "GB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("104857600", "bytes"), Some(104_857_600));
    }

    #[test]
    fn unknown_units_and_question_marks_are_none() {
        assert_eq!(parse_size("?", ""), None);
        assert_eq!(parse_size("1", "parsecs"), None);
        assert_eq!(parse_size("-1", "KB"), None);
        assert_eq!(parse_size("NaN", "KB"), None);
    }
}
