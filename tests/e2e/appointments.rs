//! The appointment store against a real Postgres: the database, not a
//! read-then-write, keeps one business's live appointments from overlapping.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use activities::domain::{BusinessId, LeadId, PhoneNumber};
use activities::store::appointments::{self, AppointmentStatus, Booked, Moved, NewAppointment};
use activities::store::businesses::{self, Business};
use e2e::helpers::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn setup(pool: &PgPool) -> (Business, LeadId) {
    workflows::migrate(pool).await.unwrap();
    let b = businesses::insert_business(pool, &demo_business(TWILIO_NUMBER)).await.unwrap();
    let phone = PhoneNumber::parse("+15125550111").unwrap();
    let lead = appointments::manual_lead(pool, b.id, &phone, Some("Ann")).await.unwrap();
    (b, lead)
}

fn appt(business_id: BusinessId, lead_id: LeadId, start: DateTime<Utc>, minutes: i32) -> NewAppointment<'static> {
    NewAppointment {
        business_id,
        lead_id,
        conversation_id: None,
        starts_at: start,
        duration_minutes: minutes,
        service_type: Some("AC Repair"),
        address: Some("12 Elm St"),
        notes: None,
        title: None,
        customer_name: Some("Ann"),
    }
}

async fn book(pool: &PgPool, new: &NewAppointment<'_>) -> Booked {
    let mut conn = pool.acquire().await.unwrap();
    appointments::book(&mut conn, new).await.unwrap()
}

fn created(b: Booked) -> appointments::Appointment {
    match b {
        Booked::Created(a) => a,
        Booked::SlotTaken => panic!("expected a booking"),
    }
}

#[sqlx::test(migrations = false)]
async fn overlapping_bookings_are_refused_and_cancelling_frees_the_time(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let first = created(book(&pool, &appt(b.id, lead, at("2026-12-08T15:00:00Z"), 90)).await);
    assert_eq!(first.ends_at(), at("2026-12-08T16:30:00Z"));
    assert_eq!(first.status, AppointmentStatus::Scheduled);
    assert_eq!(book(&pool, &appt(b.id, lead, at("2026-12-08T16:00:00Z"), 60)).await, Booked::SlotTaken);
    assert_eq!(book(&pool, &appt(b.id, lead, at("2026-12-08T14:00:00Z"), 61)).await, Booked::SlotTaken);
    // Back to back is fine: spans are half-open.
    created(book(&pool, &appt(b.id, lead, at("2026-12-08T16:30:00Z"), 60)).await);
    created(book(&pool, &appt(b.id, lead, at("2026-12-08T14:00:00Z"), 60)).await);
    // Another business has its own calendar.
    let other = businesses::insert_business(&pool, &demo_business("+15125550177")).await.unwrap();
    let other_lead =
        appointments::manual_lead(&pool, other.id, &PhoneNumber::parse("+15125550112").unwrap(), None).await.unwrap();
    created(book(&pool, &appt(other.id, other_lead, at("2026-12-08T15:00:00Z"), 90)).await);

    assert!(appointments::cancel(&pool, b.id, first.id).await.unwrap().is_some());
    assert!(appointments::cancel(&pool, b.id, first.id).await.unwrap().is_none(), "already cancelled");
    assert!(appointments::cancel(&pool, other.id, first.id).await.unwrap().is_none(), "not another tenant's");
    created(book(&pool, &appt(b.id, lead, at("2026-12-08T15:00:00Z"), 90)).await);
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE business_id = $1 AND status <> 'cancelled'")
            .bind(b.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(live, 3);
}

#[sqlx::test(migrations = false)]
async fn a_refused_booking_leaves_the_callers_transaction_usable(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    created(appointments::book(&mut tx, &appt(b.id, lead, at("2026-12-08T15:00:00Z"), 90)).await.unwrap());
    let again = appointments::book(&mut tx, &appt(b.id, lead, at("2026-12-08T15:30:00Z"), 90)).await.unwrap();
    assert_eq!(again, Booked::SlotTaken);
    // The savepoint was rolled back, not the transaction: it can go on and commit.
    created(appointments::book(&mut tx, &appt(b.id, lead, at("2026-12-09T15:00:00Z"), 90)).await.unwrap());
    tx.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 2);
}

/// Waits until some backend is blocked on a lock (the second booking waiting
/// for the first transaction's uncommitted row).
async fn wait_for_a_lock_waiter(pool: &PgPool) {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the second booking never waited on the first");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_booking_racing_an_uncommitted_one_for_the_slot_gets_slot_taken(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let slot = at("2026-12-08T15:00:00Z");
    let mut first = pool.begin().await.unwrap();
    created(appointments::book(&mut first, &appt(b.id, lead, slot, 90)).await.unwrap());
    let racer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            let r = appointments::book(&mut tx, &appt(b.id, lead, slot + Duration::minutes(30), 90)).await.unwrap();
            tx.commit().await.unwrap();
            r
        })
    };
    wait_for_a_lock_waiter(&pool).await;
    first.commit().await.unwrap();
    assert_eq!(racer.await.unwrap(), Booked::SlotTaken);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 1);
}

/// What used to deadlock in the exclusion check: the first transaction books
/// 15:00–16:00 and keeps its transaction open; the racer's 15:30 waits for
/// it; then the first books 16:00–17:00, which would overlap the racer's row
/// had the racer inserted it. With the business's booking lock the racer
/// waits before inserting anything, so the first goes on at once, and the
/// racer finds its time taken once the first commits.
#[sqlx::test(migrations = false)]
async fn a_booking_racing_one_that_books_twice_waits_and_finds_its_time_taken(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let slot = at("2026-12-08T15:00:00Z");
    let mut first = pool.begin().await.unwrap();
    created(appointments::book(&mut first, &appt(b.id, lead, slot, 60)).await.unwrap());
    let racer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            appointments::book(&mut conn, &appt(b.id, lead, slot + Duration::minutes(30), 60)).await
        })
    };
    wait_for_a_lock_waiter(&pool).await;
    let second = appointments::book(&mut first, &appt(b.id, lead, slot + Duration::hours(1), 60)).await;
    first.commit().await.unwrap();
    let racer = racer.await.unwrap();
    assert!(matches!(second, Ok(Booked::Created(_))), "{second:?}");
    assert!(matches!(racer, Ok(Booked::SlotTaken)), "{racer:?}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 2);
}

#[sqlx::test(migrations = false)]
async fn many_concurrent_bookings_of_one_slot_make_exactly_one_appointment(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let opts = (*pool.connect_options()).clone();
    let racers = 8;
    let many = PgPoolOptions::new().max_connections(racers).connect_with(opts).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(racers as usize));
    let mut tasks = Vec::new();
    for i in 0..racers {
        let (many, barrier) = (many.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = many.acquire().await.unwrap();
            barrier.wait().await;
            // Slightly different times, all overlapping one another.
            let start = at("2026-12-08T15:00:00Z") + Duration::minutes(i64::from(i) * 5);
            appointments::book(&mut conn, &appt(b.id, lead, start, 90)).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let booked = outcomes.iter().filter(|o| matches!(o, Booked::Created(_))).count();
    assert_eq!(booked, 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == Booked::SlotTaken).count(), racers as usize - 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 1);
    many.close().await;
}

#[sqlx::test(migrations = false)]
async fn open_slots_leave_out_booked_and_blocked_times(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    sqlx::query("UPDATE businesses SET timezone = 'America/New_York' WHERE id = $1")
        .bind(b.id)
        .execute(&pool)
        .await
        .unwrap();
    let b = businesses::get_business(&pool, b.id).await.unwrap().unwrap();
    assert_eq!(b.appointment_minutes, 90);
    // Tue 10:00-11:30 EST booked; Wed 08:00-12:00 EST blocked; a cancelled one frees its time.
    created(book(&pool, &appt(b.id, lead, at("2026-12-08T15:00:00Z"), 90)).await);
    let gone = created(book(&pool, &appt(b.id, lead, at("2026-12-07T13:00:00Z"), 90)).await);
    appointments::cancel(&pool, b.id, gone.id).await.unwrap();
    appointments::add_blocked(&pool, b.id, at("2026-12-09T13:00:00Z"), at("2026-12-09T17:00:00Z"), Some("supplier"))
        .await
        .unwrap();

    let busy = appointments::busy_intervals(&pool, b.id, at("2026-12-07T00:00:00Z"), at("2026-12-10T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        busy,
        [
            (at("2026-12-08T15:00:00Z"), at("2026-12-08T16:30:00Z")),
            (at("2026-12-09T13:00:00Z"), at("2026-12-09T17:00:00Z"))
        ]
    );

    let now = at("2026-12-07T11:00:00Z"); // Mon 06:00 EST
    let slots = appointments::open_slots(&pool, &b, now, 3).await.unwrap();
    let per_day = |d: u32| slots.iter().filter(|s| s.start.format("%d").to_string() == format!("{d:02}")).count();
    assert_eq!((per_day(7), per_day(8), per_day(9)), (8, 5, 4), "{slots:?}");
    let offered = activities::booking::offer(&slots, b.timezone.tz(), 4);
    assert_eq!(activities::booking::format_offer(&offered, b.timezone.tz()), "Mon 8am, Mon 12pm, Tue 12pm, Wed 12pm");

    let tuesday = "2026-12-08".parse().unwrap();
    let one_hour = appointments::open_slots_on(&pool, &b, tuesday, Duration::minutes(60), now).await.unwrap();
    let starts: Vec<String> = one_hour.iter().map(|s| s.start.format("%H:%M").to_string()).collect();
    // 10:00 and 11:00 EST overlap the booking; 09:00 ends as it starts.
    assert_eq!(starts, ["13:00", "14:00", "17:00", "18:00", "19:00", "20:00", "21:00"]);
}

#[sqlx::test(migrations = false)]
async fn appointments_are_moved_listed_and_found_for_their_lead(pool: PgPool) {
    let (b, lead) = setup(&pool).await;
    let soon = Utc::now() + Duration::days(1);
    let a = created(book(&pool, &appt(b.id, lead, soon, 60)).await);
    let c = created(book(&pool, &appt(b.id, lead, soon + Duration::hours(3), 60)).await);
    let past = created(book(&pool, &appt(b.id, lead, soon - Duration::days(3), 60)).await);

    let mut conn = pool.acquire().await.unwrap();
    let onto_c =
        appointments::reschedule(&mut conn, b.id, a.id, c.starts_at + Duration::minutes(30), 60).await.unwrap();
    assert_eq!(onto_c, Moved::SlotTaken);
    // Sliding within its own time is no conflict with itself.
    let Moved::Moved(moved) =
        appointments::reschedule(&mut conn, b.id, a.id, a.starts_at + Duration::minutes(30), 90).await.unwrap()
    else {
        panic!("expected a move");
    };
    assert_eq!((moved.duration_minutes, moved.ends_at()), (90, a.starts_at + Duration::minutes(120)));
    let unknown = appointments::reschedule(&mut conn, b.id, activities::domain::AppointmentId::new(), soon, 60);
    assert_eq!(unknown.await.unwrap(), Moved::NotFound);

    let active = appointments::active_for_lead(&pool, b.id, lead).await.unwrap().unwrap();
    assert_eq!(active.id, a.id, "the next live one, not the past one");
    appointments::set_status(&pool, b.id, a.id, AppointmentStatus::Confirmed).await.unwrap();
    assert_eq!(appointments::active_for_lead(&pool, b.id, lead).await.unwrap().unwrap().id, a.id);
    appointments::cancel(&pool, b.id, a.id).await.unwrap();
    assert_eq!(appointments::active_for_lead(&pool, b.id, lead).await.unwrap().unwrap().id, c.id);
    appointments::set_status(&pool, b.id, c.id, AppointmentStatus::Completed).await.unwrap();
    assert!(appointments::active_for_lead(&pool, b.id, lead).await.unwrap().is_none());

    let (from, to) = (soon - Duration::days(7), soon + Duration::days(7));
    let page = appointments::list(&pool, b.id, from, to, 1, None).await.unwrap();
    assert_eq!(page.iter().map(|a| a.id).collect::<Vec<_>>(), [past.id], "cancelled ones are not listed");
    let cursor = appointments::ListCursor { starts_at: past.starts_at, id: past.id };
    let rest = appointments::list(&pool, b.id, from, to, 10, Some(cursor)).await.unwrap();
    assert_eq!(rest.iter().map(|a| a.id).collect::<Vec<_>>(), [c.id]);

    let bad =
        sqlx::query("UPDATE businesses SET appointment_minutes = 10 WHERE id = $1").bind(b.id).execute(&pool).await;
    assert!(bad.is_err(), "appointment length is checked by the schema");
}
