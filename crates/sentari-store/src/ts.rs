//! A UTC timestamp column type that round-trips exactly on both backends.
//!
//! PostgreSQL stores `timestamptz` with microsecond precision. SQLite has no timestamp type, and
//! text timestamps only compare correctly when every writer uses the same fixed-width format, so
//! SQLite columns hold integer Unix microseconds instead. Both representations keep exactly
//! microseconds, and [`Ts`] truncates to microseconds on the way in, so a value read back compares
//! equal to the value written — which the schedule compare-and-swap depends on.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgHasArrayType, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type};
use time::OffsetDateTime;

/// A UTC instant with microsecond precision, as stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Ts(OffsetDateTime);

impl Ts {
    /// Truncates `t` to whole microseconds and normalises it to UTC.
    pub(crate) fn new(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        let micros = t.microsecond();
        // Replacing the sub-second part with the same microsecond count cannot fail: the value
        // comes from the timestamp itself and is always below one million.
        Ts(t.replace_microsecond(micros).unwrap_or(t))
    }

    pub(crate) fn now() -> Self {
        Ts::new(OffsetDateTime::now_utc())
    }

    pub(crate) fn get(self) -> OffsetDateTime {
        self.0
    }

    pub(crate) fn unix_micros(self) -> i64 {
        // Every representable OffsetDateTime within ±9999 years fits in i64 microseconds.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    pub(crate) fn from_unix_micros(micros: i64) -> Result<Self, BoxDynError> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)?;
        Ok(Ts(t))
    }

    /// Adds a duration, saturating instead of overflowing far in the future.
    pub(crate) fn plus(self, d: std::time::Duration) -> Self {
        let d = time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
        Ts::new(self.0.checked_add(d).unwrap_or(self.0))
    }
}

impl From<OffsetDateTime> for Ts {
    fn from(t: OffsetDateTime) -> Self {
        Ts::new(t)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Sqlite>>::encode(self.unix_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ts::from_unix_micros(<i64 as Decode<'r, Sqlite>>::decode(value)?)
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for Ts {
    fn array_type_info() -> PgTypeInfo {
        <OffsetDateTime as PgHasArrayType>::array_type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts::new(<OffsetDateTime as Decode<'r, Postgres>>::decode(
            value,
        )?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn truncates_to_microseconds_and_round_trips() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let ts = Ts::new(t);
        assert_eq!(ts.unix_micros(), 1_700_000_000_123_456);
        assert_eq!(Ts::from_unix_micros(ts.unix_micros()).unwrap(), ts);
    }
}
