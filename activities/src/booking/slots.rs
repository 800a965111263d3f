//! Open appointment slots from weekly hours, the business's zone, and what is
//! already booked or blocked.
//!
//! The rules, in one place:
//! - Slots start on a 60-minute grid counted from the day's opening time (open
//!   07:30 gives 07:30, 08:30, …), whatever the appointment length.
//! - Times are wall-clock times in the business's zone, turned into instants
//!   with chrono-tz: a start that does not exist (the spring-forward gap) is
//!   skipped; an ambiguous one (the autumn fold) takes the earlier instant. A
//!   slot's length is real elapsed time, and the whole slot must end by closing.
//! - No slot starts before `now + lead_time`, and none overlaps a busy interval
//!   (half-open: a slot may start the instant a busy one ends).
//! - "The next N business days" are the next N local dates, starting today, on
//!   which the business opens and which, bookings aside, still have a slot
//!   after the lead time: a customer texting at 6pm is offered three whole
//!   days, while a fully booked day still counts (so a full calendar is empty).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::BusinessHours;

/// Starts are this far apart.
const GRID: Duration = Duration::hours(1);

/// One bookable time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Everything the computation needs; the clock is `now`.
#[derive(Debug, Clone, Copy)]
pub struct SlotRequest<'a> {
    pub hours: &'a BusinessHours,
    pub tz: Tz,
    /// The appointment length (real elapsed time).
    pub length: Duration,
    /// No slot starts sooner than this after `now` (`booking::LEAD_TIME`, 2 h).
    pub lead_time: Duration,
    /// Existing appointments and blocked times, `[start, end)`, any order.
    pub busy: &'a [(DateTime<Utc>, DateTime<Utc>)],
    pub now: DateTime<Utc>,
    /// How many business days to cover (`booking::BUSINESS_DAYS`, 3).
    pub business_days: u32,
}

/// Every open slot over the next `business_days` business days, by start.
pub fn available_slots(req: &SlotRequest<'_>) -> Vec<Slot> {
    booking_days(req).into_iter().flat_map(|d| slots_on(req, d)).collect()
}

/// The open slots on one local date (`business_days` is not used).
pub fn slots_on(req: &SlotRequest<'_>, date: NaiveDate) -> Vec<Slot> {
    grid(req, date).into_iter().filter(|s| !overlaps_busy(s, req.busy)).collect()
}

/// The local dates `available_slots` covers (see the module doc).
pub fn booking_days(req: &SlotRequest<'_>) -> Vec<NaiveDate> {
    let wanted = usize::try_from(req.business_days).unwrap_or(usize::MAX);
    if wanted == 0 || req.length <= Duration::zero() {
        return Vec::new();
    }
    let today = req.now.with_timezone(&req.tz).date_naive();
    // Each week has an open day (or none ever will): this bounds the search.
    let horizon = 7 * (u64::from(req.business_days) + 1);
    today
        .iter_days()
        .take(usize::try_from(horizon).unwrap_or(usize::MAX))
        .filter(|d| !grid(req, *d).is_empty())
        .take(wanted)
        .collect()
}

/// The day's grid starts that fit in its hours and respect the lead time,
/// before existing bookings are considered.
fn grid(req: &SlotRequest<'_>, date: NaiveDate) -> Vec<Slot> {
    let Some(day) = req.hours.day(date.weekday()) else {
        return Vec::new();
    };
    let Some(close) = resolve_close(req.tz, date.and_time(day.close)) else {
        return Vec::new();
    };
    let earliest = req.now + req.lead_time;
    let mut out = Vec::new();
    let mut wall = date.and_time(day.open);
    while wall.date() == date && wall.time() < day.close {
        if let Some(start) = resolve_start(req.tz, wall) {
            let end = start + req.length;
            if start >= earliest && end <= close {
                out.push(Slot { start, end });
            }
        }
        wall += GRID;
    }
    out
}

/// A local start time as an instant: none in a gap, the earlier in a fold.
fn resolve_start(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&wall).earliest().map(|t| t.with_timezone(&Utc))
}

/// A closing time that falls in a gap means the first instant after the gap.
fn resolve_close(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=16).find_map(|step| resolve_start(tz, wall + Duration::minutes(15 * step)))
}

fn overlaps_busy(slot: &Slot, busy: &[(DateTime<Utc>, DateTime<Utc>)]) -> bool {
    busy.iter().any(|(s, e)| slot.start < *e && *s < slot.end)
}

/// At most `max` slots, spread across days and times of day, sorted by start.
///
/// Days take turns (round robin from the earliest). A day's first pick
/// alternates between morning (before noon) and afternoon from one day to the
/// next; its later picks go to whichever half of the day it has fewer of.
/// Within that, the earliest slot at least two hours from the day's other
/// picks wins; two neighbouring hours on one day are offered only when no
/// other day has a better choice. Deterministic: the same input, the same offer.
pub fn offer(slots: &[Slot], tz: Tz, max: usize) -> Vec<Slot> {
    let mut sorted = slots.to_vec();
    sorted.sort();
    sorted.dedup();
    let days = group_by_day(&sorted, tz);
    let mut picks: Vec<Vec<Slot>> = vec![Vec::new(); days.len()];
    let mut first_morning = true;
    let mut cursor = 0;
    let mut taken = 0;
    while taken < max.min(sorted.len()) {
        let Some((day, slot)) = next_pick(&days, &picks, cursor, first_morning, tz) else {
            break;
        };
        if picks.get(day).is_some_and(Vec::is_empty) {
            first_morning = !first_morning;
        }
        if let Some(p) = picks.get_mut(day) {
            p.push(slot);
        }
        taken += 1;
        cursor = (day + 1) % days.len();
    }
    let mut out: Vec<Slot> = picks.into_iter().flatten().collect();
    out.sort();
    out
}

fn group_by_day(sorted: &[Slot], tz: Tz) -> Vec<Vec<Slot>> {
    let mut days: Vec<(NaiveDate, Vec<Slot>)> = Vec::new();
    for s in sorted {
        let date = s.start.with_timezone(&tz).date_naive();
        match days.last_mut() {
            Some((d, v)) if *d == date => v.push(*s),
            _ => days.push((date, vec![*s])),
        }
    }
    days.into_iter().map(|(_, v)| v).collect()
}

/// The day (round robin from `cursor`) and slot to pick next: the first day
/// with a well-spaced candidate, else the first day with any candidate.
fn next_pick(
    days: &[Vec<Slot>],
    picks: &[Vec<Slot>],
    cursor: usize,
    first_morning: bool,
    tz: Tz,
) -> Option<(usize, Slot)> {
    let order: Vec<usize> = (0..days.len()).map(|i| (cursor + i) % days.len()).collect();
    let best = |d: usize| {
        let (slots, picked) = (days.get(d)?, picks.get(d)?);
        best_on_day(slots, picked, wants_morning(picked, first_morning, tz), tz)
    };
    let candidates: Vec<(usize, u8, Slot)> = order.iter().filter_map(|&d| best(d).map(|(t, s)| (d, t, s))).collect();
    candidates.iter().find(|(_, tier, _)| *tier < 2).or(candidates.first()).map(|(d, _, s)| (*d, *s))
}

fn wants_morning(picked: &[Slot], first_morning: bool, tz: Tz) -> bool {
    if picked.is_empty() {
        return first_morning;
    }
    let mornings = picked.iter().filter(|s| is_morning(s, tz)).count();
    mornings * 2 <= picked.len()
}

/// Tier 0: the wanted half of the day and well spaced; 1: well spaced; 2: any.
fn best_on_day(slots: &[Slot], picked: &[Slot], morning: bool, tz: Tz) -> Option<(u8, Slot)> {
    let spaced = |s: &Slot| picked.iter().all(|p| (s.start - p.start).abs() >= Duration::hours(2));
    slots
        .iter()
        .filter(|s| !picked.contains(s))
        .map(|s| {
            let tier = match (spaced(s), is_morning(s, tz) == morning) {
                (true, true) => 0,
                (true, false) => 1,
                (false, _) => 2,
            };
            (tier, *s)
        })
        .min()
}

fn is_morning(s: &Slot, tz: Tz) -> bool {
    s.start.with_timezone(&tz).time() < NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default()
}

/// The local hour a slot starts at (0–23), for matching and wording.
pub(crate) fn local_hour(s: &Slot, tz: Tz) -> u32 {
    s.start.with_timezone(&tz).hour()
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
