//! Cron expressions for the built-in schedules (ARCHITECTURE.md §7).
//!
//! The scheduler stores only the next firing time of each schedule; this module computes it.
//! It understands the classic five fields (`minute hour day-of-month month day-of-week`) with
//! `*`, lists, ranges and steps, plus the `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`
//! shorthands. Times are always UTC, so there is no daylight-saving ambiguity to resolve.
//!
//! It is written here rather than taken from a crate because the common cron crates are built
//! on `chrono`, and the workspace uses `time` throughout; the grammar needed is small.

use std::fmt;
use std::str::FromStr;

use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expr:?}: {reason}")]
pub struct CronError {
    expr: String,
    reason: String,
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    source: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_restricted: bool,
    dow_restricted: bool,
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

/// Bit set of the values a field allows, with whether the field was `*` (unrestricted).
struct Field {
    bits: u64,
    star: bool,
}

fn parse_field(text: &str, min: u32, max: u32, expr: &str) -> Result<Field, CronError> {
    let err = |reason: String| CronError {
        expr: expr.to_owned(),
        reason,
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(format!("step {s:?} is not a number")))?;
                if step == 0 {
                    return Err(err("a step of 0 never fires".into()));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            if step == 1 {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, min, max, expr)?, number(b, min, max, expr)?)
        } else {
            let v = number(range, min, max, expr)?;
            // `5/15` means "from 5 to the end, every 15", as in Vixie cron.
            if step > 1 { (v, max) } else { (v, v) }
        };
        if lo > hi {
            return Err(err(format!("range {range:?} runs backwards")));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(Field { bits, star })
}

fn number(text: &str, min: u32, max: u32, expr: &str) -> Result<u32, CronError> {
    let v: u32 = text.parse().map_err(|_| CronError {
        expr: expr.to_owned(),
        reason: format!("{text:?} is not a number"),
    })?;
    if v < min || v > max {
        return Err(CronError {
            expr: expr.to_owned(),
            reason: format!("{v} is outside {min}..={max}"),
        });
    }
    Ok(v)
}

impl Cron {
    /// Parses a five-field expression or one of the `@` shorthands.
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let trimmed = expr.trim();
        let expanded = match trimmed {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError {
                expr: expr.to_owned(),
                reason: format!("expected 5 fields, found {}", fields.len()),
            });
        }
        let minutes = parse_field(fields[0], 0, 59, expr)?;
        let hours = parse_field(fields[1], 0, 23, expr)?;
        let dom = parse_field(fields[2], 1, 31, expr)?;
        let months = parse_field(fields[3], 1, 12, expr)?;
        let mut dow = parse_field(fields[4], 0, 7, expr)?;
        // Both 0 and 7 mean Sunday.
        if dow.bits & (1 << 7) != 0 {
            dow.bits = (dow.bits | 1) & !(1 << 7);
        }
        Ok(Cron {
            source: trimmed.to_owned(),
            minutes: minutes.bits,
            hours: hours.bits,
            days_of_month: dom.bits,
            months: months.bits,
            days_of_week: dow.bits,
            dom_restricted: !dom.star,
            dow_restricted: !dow.star,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << u8::from(date.month())) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().number_days_from_sunday()) != 0;
        // Vixie cron: when both day fields are restricted, either may match.
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first firing time strictly after `after`, in UTC, or `None` when the expression
    /// can never fire (for example `0 0 31 2 *`) within the next eight years.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let start = after.replace_nanosecond(0).ok()?.replace_second(0).ok()? + Duration::MINUTE;
        let mut date = start.date();
        let mut first_day = true;
        // Eight years covers every leap-day combination; a longer search means "never".
        for _ in 0..(366 * 8) {
            if self.day_matches(date) {
                let (h0, m0) = if first_day {
                    (start.hour(), start.minute())
                } else {
                    (0, 0)
                };
                for hour in h0..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let from_minute = if hour == h0 { m0 } else { 0 };
                    for minute in from_minute..60 {
                        if self.minutes & (1 << minute) != 0 {
                            let t = Time::from_hms(hour, minute, 0).ok()?;
                            return Some(PrimitiveDateTime::new(date, t).assume_utc());
                        }
                    }
                }
            }
            first_day = false;
            date = date.next_day()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn next(expr: &str, after: OffsetDateTime) -> OffsetDateTime {
        Cron::parse(expr).unwrap().next_after(after).unwrap()
    }

    #[test]
    fn daily_at_two() {
        assert_eq!(
            next("0 2 * * *", datetime!(2026-11-23 06:00:00 UTC)),
            datetime!(2026-11-24 02:00:00 UTC)
        );
        assert_eq!(
            next("0 2 * * *", datetime!(2026-11-23 01:59:59 UTC)),
            datetime!(2026-11-23 02:00:00 UTC)
        );
        // Strictly after: a tick exactly at the firing time moves to the next day.
        assert_eq!(
            next("0 2 * * *", datetime!(2026-11-23 02:00:00 UTC)),
            datetime!(2026-11-24 02:00:00 UTC)
        );
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(
            next("* * * * *", datetime!(2026-01-01 00:00:30 UTC)),
            datetime!(2026-01-01 00:01:00 UTC)
        );
        assert_eq!(
            next("*/15 * * * *", datetime!(2026-01-01 00:16:00 UTC)),
            datetime!(2026-01-01 00:30:00 UTC)
        );
        assert_eq!(
            next("5/20 * * * *", datetime!(2026-01-01 00:26:00 UTC)),
            datetime!(2026-01-01 00:45:00 UTC)
        );
        assert_eq!(
            next("@hourly", datetime!(2026-12-31 23:10:00 UTC)),
            datetime!(2027-01-01 00:00:00 UTC)
        );
    }

    #[test]
    fn day_fields_follow_vixie_semantics() {
        // 2026-11-23 is a Monday. "On the 1st or on Fridays".
        assert_eq!(
            next("0 0 1 * 5", datetime!(2026-11-23 12:00:00 UTC)),
            datetime!(2026-11-27 00:00:00 UTC)
        );
        // Sunday as 7.
        assert_eq!(
            next("0 0 * * 7", datetime!(2026-11-23 12:00:00 UTC)),
            datetime!(2026-11-29 00:00:00 UTC)
        );
        // Leap day.
        assert_eq!(
            next("0 0 29 2 *", datetime!(2026-03-01 00:00:00 UTC)),
            datetime!(2028-02-29 00:00:00 UTC)
        );
        assert!(
            Cron::parse("0 0 31 2 *")
                .unwrap()
                .next_after(datetime!(2026-01-01 0:00 UTC))
                .is_none()
        );
    }

    #[test]
    fn bad_expressions_are_errors() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest::proptest! {
        #[test]
        fn next_is_strictly_later_and_matches(min in 0u32..60, hour in 0u32..24, secs in 0i64..(4 * 365 * 86400)) {
            let cron = Cron::parse(&format!("{min} {hour} * * *")).unwrap();
            let after = datetime!(2026-01-01 00:00:00 UTC) + Duration::seconds(secs);
            let n = cron.next_after(after).unwrap();
            proptest::prop_assert!(n > after);
            proptest::prop_assert!(n - after <= Duration::days(1));
            proptest::prop_assert_eq!(u32::from(n.minute()), min);
            proptest::prop_assert_eq!(u32::from(n.hour()), hour);
        }
    }
}
