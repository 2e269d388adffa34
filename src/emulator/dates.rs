//! Calendar arithmetic for the emulator (proleptic Gregorian, UTC): date
//! strings for sample data and Petra reports, and parsing of the `asOf` /
//! `startDate` parameters. Small on purpose: no time-zone database needed.

/// Days since 1970-01-01 for a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month, day)` for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Number of days in a month.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

/// `YYYY-MM-DD` for days since the epoch.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
pub fn format_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(days),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse `YYYY-MM-DD` into days since the epoch (`None` if not a real date).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&s[0..4])?;
    let m = digits(&s[5..7])? as u32;
    let d = digits(&s[8..10])? as u32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parse a date or an ISO 8601 date-time (`YYYY-MM-DDTHH:MM[:SS[.fff]]`
/// with `Z`, `±HH:MM` or nothing for UTC) into seconds since the epoch.
pub fn parse_date_or_datetime(s: &str) -> Option<i64> {
    if s.len() == 10 {
        return parse_date(s).map(|d| d * 86_400);
    }
    if s.len() < 16 {
        return None;
    }
    let days = parse_date(s.get(0..10)?)?;
    let sep = s.as_bytes()[10];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let rest = &s[11..];
    // Split off the zone.
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = &z[1..];
        let (hh, mm) = z
            .split_once(':')
            .unwrap_or((z.get(0..2)?, z.get(2..).unwrap_or("0")));
        let off = digits(hh)? * 3600 + digits(if mm.is_empty() { "0" } else { mm })? * 60;
        (t, sign * off)
    } else {
        (rest, 0)
    };
    let mut parts = time.split(':');
    let h = digits(parts.next()?)?;
    let mi = digits(parts.next()?)?;
    let sec = match parts.next() {
        Some(sec) => {
            let whole = sec.split('.').next()?;
            digits(whole)?
        }
        None => 0,
    };
    if parts.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for d in [-1000, 0, 1, 19_000, 20_000, 365 * 60] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-13-01"), None);
        assert_eq!(parse_date("garbage"), None);
    }

    #[test]
    fn datetimes() {
        let base = parse_date("2025-01-02").unwrap_or_default() * 86_400;
        assert_eq!(parse_date_or_datetime("2025-01-02"), Some(base));
        assert_eq!(
            parse_date_or_datetime("2025-01-02T03:04:05Z"),
            Some(base + 11_045)
        );
        assert_eq!(
            parse_date_or_datetime("2025-01-02T03:04:05.123Z"),
            Some(base + 11_045)
        );
        assert_eq!(
            parse_date_or_datetime("2025-01-02T03:04:05+01:00"),
            Some(base + 7_445)
        );
        assert_eq!(
            parse_date_or_datetime("2025-01-02T03:04"),
            Some(base + 11_040)
        );
        assert_eq!(parse_date_or_datetime("2025-01-02T25:04"), None);
        assert_eq!(format_datetime(base + 11_045), "2025-01-02T03:04:05Z");
    }
}
