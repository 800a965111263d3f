//! An IANA time zone, stored as its name.

use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A business's (or a recipient's) IANA time zone, e.g. `America/New_York`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(pub Tz);

impl Zone {
    pub fn parse(name: &str) -> Result<Self, ZoneError> {
        name.trim().parse::<Tz>().map(Zone).map_err(|_| ZoneError(name.to_owned()))
    }
    pub fn tz(&self) -> Tz {
        self.0
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown IANA time zone {0:?} (e.g. America/New_York)")]
pub struct ZoneError(String);

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl TryFrom<String> for Zone {
    type Error = ZoneError;
    fn try_from(s: String) -> Result<Self, ZoneError> {
        Zone::parse(&s)
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.0.name().to_owned()
    }
}

impl sqlx::Type<sqlx::Postgres> for Zone {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Zone {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.0.name(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Zone {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Zone::parse(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iana_names_and_rejects_abbreviations() {
        assert_eq!(Zone::parse("America/Chicago").unwrap().to_string(), "America/Chicago");
        assert!(Zone::parse("CST").is_err());
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
