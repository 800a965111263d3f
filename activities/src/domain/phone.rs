//! E.164 phone numbers, parsed once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form (`+` then 7–15 digits, no leading zero).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// Why a string is not a phone number we can text or call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a phone number in E.164 form (e.g. +15125550123): {reason}")]
pub struct PhoneError {
    reason: &'static str,
}

impl PhoneNumber {
    /// Parses E.164 (`+15125550123`) or a US/Canada national number
    /// (`(512) 555-0123`, `512.555.0123`, `1 512 555 0123`).
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        let plus = trimmed.starts_with('+');
        let mut digits = String::with_capacity(16);
        for c in trimmed.chars().skip(usize::from(plus)) {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError { reason: "unexpected character" }),
            }
        }
        let e164 = match (plus, digits.len()) {
            (true, 7..=15) => digits,
            (true, _) => return Err(PhoneError { reason: "must have 7 to 15 digits" }),
            (false, 10) => format!("1{digits}"),
            (false, 11) if digits.starts_with('1') => digits,
            (false, _) => return Err(PhoneError { reason: "a national number must be 10 US digits" }),
        };
        if e164.starts_with('0') {
            return Err(PhoneError { reason: "country code cannot start with 0" });
        }
        Ok(Self(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Safe for logs at info level: country code and last two digits only.
    pub fn redacted(&self) -> String {
        let n = self.0.len();
        let tail = self.0.get(n.saturating_sub(2)..).unwrap_or_default();
        let head = self.0.get(..2).unwrap_or_default();
        format!("{head}…{tail}")
    }

    /// `(512) 555-0123` for North American numbers, E.164 otherwise.
    pub fn display_national(&self) -> String {
        let d = &self.0;
        if d.len() == 12 && d.starts_with("+1") {
            format!("({}) {}-{}", &d[2..5], &d[5..8], &d[8..12])
        } else {
            d.clone()
        }
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.redacted())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl sqlx::Type<sqlx::Postgres> for PhoneNumber {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for PhoneNumber {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.0.as_str(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for PhoneNumber {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <String as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Self::parse(&s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_and_us_national_forms() {
        for raw in ["+15125550123", "(512) 555-0123", "512.555.0123", "1 512 555 0123", " +1 512-555-0123 "] {
            assert_eq!(PhoneNumber::parse(raw).unwrap().as_str(), "+15125550123", "{raw}");
        }
        assert_eq!(PhoneNumber::parse("+447911123456").unwrap().as_str(), "+447911123456");
    }

    #[test]
    fn rejects_garbage_short_long_and_letters() {
        for raw in [
            "",
            "+",
            "12345",
            "+0123456789",
            "555-CALL-NOW",
            "+1234567890123456",
            "５１２５５５０１２３",
            "+1 512 555 0123\u{202e}",
        ] {
            assert!(PhoneNumber::parse(raw).is_err(), "{raw:?} should fail");
        }
    }

    #[test]
    fn redacted_form_hides_the_subscriber_digits() {
        let p = PhoneNumber::parse("+15125550123").unwrap();
        assert_eq!(p.redacted(), "+1…23");
        assert!(!format!("{p:?}").contains("5550123"));
        assert_eq!(p.display_national(), "(512) 555-0123");
    }
}
