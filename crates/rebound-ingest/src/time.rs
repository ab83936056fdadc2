//! Timestamps as the sources write them, to UTC epoch milliseconds. No
//! time-zone database: a time without an offset is taken as UTC.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a UTC epoch-milliseconds time.
pub fn year_of(ms: i64) -> i64 {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + if m <= 2 { 1 } else { 0 }
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2026-11-23T15:30:03.120Z`).
pub fn format_rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn num(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses `HH:MM:SS[.frac]` at the start of `s`; returns ms of day and the
/// rest.
fn time_of_day(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (num(&b[0..2])?, num(&b[3..5])?, num(&b[6..8])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut ms = (h as i64 * 3600 + m as i64 * 60 + sec as i64) * 1000;
    let mut rest = &s[8..];
    if let Some(f) = rest.strip_prefix(['.', ',']) {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            let digits = &f[..n.min(3)];
            let mut frac: i64 = digits.parse().ok()?;
            for _ in digits.len()..3 {
                frac *= 10;
            }
            ms += frac;
        }
        rest = &f[n..];
    }
    Some((ms, rest))
}

/// Parses a zone suffix: `Z`, `+01:00`, `+0100`, ` +0100`, ` UTC`, or
/// nothing (UTC). Returns the offset in ms to subtract.
fn zone(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s == "Z" || s == "z" || s.eq_ignore_ascii_case("UTC") || s == "GMT" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if (digits.len() != 4 && digits.len() != 2) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    Some(sign * (h * 3600 + m * 60) * 1000)
}

/// Parses RFC 3339 / ISO 8601 and the close variants the sources use:
/// `2016-01-27T14:59:38.237Z`, `2019-11-05T16:33:54.9070259Z`,
/// `2026-11-23 15:30:03`, `2026-11-23 15:30:03-0500`,
/// `2026-11-23T15:30:03.123456+00:00`.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (tod, rest) = time_of_day(&s[11..])?;
    let off = zone(rest)?;
    Some(days_from_civil(y as i64, mo, d) * 86_400_000 + tod - off)
}

/// Parses an epoch number in seconds (possibly fractional) or milliseconds
/// (13 digits and more), as a JSON number or string.
pub fn parse_epoch(v: &serde_json::Value) -> Option<i64> {
    let f = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(f) = s.parse::<f64>() {
                f
            } else {
                return parse_iso(s);
            }
        }
        _ => return None,
    };
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    Some(if f >= 1e12 {
        f as i64
    } else {
        (f * 1000.0).round() as i64
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses a classic syslog timestamp `Nov 23 15:30:03` (the day may be
/// space-padded) at the start of `s`, in `year`. Returns ms and the rest of
/// the line.
pub fn parse_syslog(s: &str, year: i64) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' {
        return None;
    }
    let mo = MONTHS.iter().position(|m| m.as_bytes() == &b[0..3])? as u32 + 1;
    let day = std::str::from_utf8(&b[4..6]).ok()?.trim();
    let d: u32 = day.parse().ok()?;
    if b[6] != b' ' || !(1..=31).contains(&d) {
        return None;
    }
    let (tod, rest) = time_of_day(&s[7..])?;
    Some((days_from_civil(year, mo, d) * 86_400_000 + tod, rest))
}

/// A point in time as people write it on a command line or in a query:
/// RFC 3339 (`2026-11-01T10:00:00Z`), a date (`2026-11-01`), epoch seconds,
/// or an age before `now` (`30m`, `24h`, `7d`, `2w`).
pub fn parse_since(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_iso(s) {
        return Some(t);
    }
    if s.len() == 10 && s.as_bytes()[4] == b'-' {
        return parse_iso(&format!("{s}T00:00:00Z"));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().ok()?;
    let ms = match unit {
        // Checked: a query string can hold any number.
        "" => return n.checked_mul(1000),
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    now.checked_sub(n.checked_mul(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_variants() {
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso("2016-01-27T14:59:38.237Z"),
            Some(1_453_906_778_237)
        );
        assert_eq!(
            parse_iso("2019-11-05T16:33:54.9070259Z"),
            Some(1_572_971_634_907)
        );
        assert_eq!(
            parse_iso("2026-11-23 15:30:03-0500"),
            parse_iso("2026-11-23T20:30:03Z")
        );
        assert_eq!(
            parse_iso("2026-11-23T15:30:03.123456+01:00"),
            Some(parse_iso("2026-11-23T14:30:03Z").unwrap() + 123)
        );
        assert_eq!(parse_iso("2026-13-01 00:00:00"), None);
        assert_eq!(parse_iso("yesterday"), None);
        // Multibyte junk where a zone should be: refused, not a panic.
        assert_eq!(parse_iso("2026-11-23T10:00:00+1\u{e9}1"), None);
        assert_eq!(
            format_rfc3339(1_453_906_778_237),
            "2016-01-27T14:59:38.237Z"
        );
        assert_eq!(year_of(1_453_906_778_237), 2016);
    }

    #[test]
    fn epochs_and_syslog() {
        assert_eq!(
            parse_epoch(&serde_json::json!(1513299569)),
            Some(1_513_299_569_000)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!(1521472262.908181)),
            Some(1_521_472_262_908)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!("1454442600")),
            Some(1_454_442_600_000)
        );
        assert_eq!(
            parse_epoch(&serde_json::json!(1_513_299_569_123i64)),
            Some(1_513_299_569_123)
        );
        let (ms, rest) = parse_syslog("Nov  3 05:06:07 mail postfix", 2026).unwrap();
        assert_eq!(ms, parse_iso("2026-11-03T05:06:07Z").unwrap());
        assert_eq!(rest, " mail postfix");
        assert!(parse_syslog("Foo  3 05:06:07 x", 2026).is_none());
    }
}
