//! `GET /calendar/internal/events?start_date=ISO&end_date=ISO&limit=N[&page_token=…]`
//! → `{"events": [...], "next_page_token"?}`: live appointments overlapping the
//! range, by start. Dates without an offset are read in the business's zone;
//! the range defaults to the next 30 days, `limit` to 50 (at most 250).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use activities::store::appointments::{self, ListCursor};

use super::super::auth::CalendarAuth;
use super::super::error::{invalid, CalendarResult};
use super::super::params;
use super::Event;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub user_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub limit: Option<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    CalendarAuth(business): CalendarAuth,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> CalendarResult<Json<EventPage>> {
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    params::check_user(q.user_id.as_deref(), business.id)?;
    let tz = business.timezone.tz();
    let from = match q.start_date.as_deref() {
        Some(raw) => params::instant("start_date", raw, tz)?,
        None => Utc::now(),
    };
    let to = match q.end_date.as_deref() {
        Some(raw) => params::instant("end_date", raw, tz)?,
        None => from + Duration::days(30),
    };
    if to <= from {
        return Err(invalid("end_date must be after start_date"));
    }
    let limit = q.limit.as_deref().map(|l| params::number("limit", l, 1..=250)).transpose()?.unwrap_or(50);
    let after = q.page_token.as_deref().map(decode_token).transpose()?;
    let mut rows = appointments::list(&app.pool, business.id, from, to, limit + 1, after).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_page_token =
        rows.last().filter(|_| more).map(|a| encode_token(ListCursor { starts_at: a.starts_at, id: a.id }));
    Ok(Json(EventPage { events: rows.into_iter().map(Event::from).collect(), next_page_token }))
}

/// Opaque to clients: the last event's start (µs) and id.
fn encode_token(c: ListCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", c.starts_at.timestamp_micros(), c.id))
}

fn decode_token(raw: &str) -> CalendarResult<ListCursor> {
    let bad = || invalid("page_token is not one this API gave out");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let starts_at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok(ListCursor { starts_at, id: id.parse().map_err(|_| bad())? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_junk_is_refused() {
        let c = ListCursor { starts_at: "2026-12-08T15:00:00.123456Z".parse().unwrap(), id: Default::default() };
        assert_eq!(decode_token(&encode_token(c)).unwrap(), c);
        for junk in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("12|not-a-uuid"), &URL_SAFE_NO_PAD.encode("nope")] {
            assert!(decode_token(junk).is_err(), "{junk}");
        }
    }
}
