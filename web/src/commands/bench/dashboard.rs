//! (e) The owner dashboard's store queries on a seeded database: by default
//! 1,000 businesses, 100,000 leads (each with its missed call and its
//! conversation) and 1,000,000 texts spread over the last 60 days. Each
//! iteration picks a business at random and runs every query once.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use sqlx::{PgConnection, PgPool};

use activities::domain::{BusinessId, ConversationId};
use activities::store::businesses;
use activities::store::dashboard::{self as d, CallFilter, ConversationFilter, LeadFilter};

use super::procs::CpuSample;
use super::report::{num, Latency, Report};

#[derive(Debug, Clone, Args)]
pub struct Dashboard {
    #[arg(long, default_value_t = 1_000)]
    pub businesses: i64,
    #[arg(long, default_value_t = 100_000)]
    pub leads: i64,
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Rounds of every query, each on a business picked at random.
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
}

/// The queries, in the order they are timed: (JSON key, label).
const QUERIES: [(&str, &str); 11] = [
    ("figures", "today's and this month's figures"),
    ("activity", "recent activity (20)"),
    ("calls_page1", "calls, first page (25)"),
    ("calls_page2", "calls, second page by cursor"),
    ("calls_missed", "calls, missed only"),
    ("leads_page1", "leads, first page (25)"),
    ("leads_status", "leads, qualified only"),
    ("leads_search", "leads, name search"),
    ("conversations_page1", "conversations with last text, first page (25)"),
    ("conversations_status", "conversations, active only"),
    ("conversation_view", "one conversation with its messages"),
];

pub async fn run(a: &Dashboard, db_url: &str) -> anyhow::Result<Report> {
    anyhow::ensure!(a.businesses > 0 && a.leads >= a.businesses && a.messages >= 0, "need leads ≥ businesses > 0");
    let pool = crate::commands::harness::scratch_pool(db_url, 2).await?;
    workflows::migrate(&pool).await?;
    let t = Instant::now();
    seed(&pool, a).await?;
    let seed_s = t.elapsed().as_secs_f64();
    let ids: Vec<BusinessId> =
        sqlx::query_scalar("SELECT id FROM businesses ORDER BY twilio_number").fetch_all(&pool).await?;
    anyhow::ensure!(ids.len() as i64 == a.businesses, "the scratch database held other businesses");
    let mut conn = pool.acquire().await?;
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(a.iterations); QUERIES.len()];
    let cpu0 = CpuSample::take(std::process::id());
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    for _ in 0..a.iterations {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let i = (rng % a.businesses as u64) as i64;
        round(&mut conn, &ids, i, a, &mut times).await?;
    }
    let cpu = cpu0.until(&CpuSample::take(std::process::id()));
    drop(conn);
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM businesses), (SELECT count(*) FROM leads), (SELECT count(*) FROM messages)",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    let mut r = Report::new(format!(
        "callrecover bench dashboard: {} rounds of every query, a random business each, on {} businesses, {} leads, {} messages",
        a.iterations, counts.0, counts.1, counts.2
    ));
    for ((key, label), v) in QUERIES.iter().zip(times) {
        r.latencies.push(Latency::of(key, label, v));
    }
    r.figure("businesses", "businesses", counts.0);
    r.figure("leads", "leads", counts.1);
    r.figure("messages", "messages", counts.2);
    r.figure("seed_s", "time to seed (s)", num(seed_s));
    r.figure("postgres_cpu_pct", "PostgreSQL CPU during the queries (% of one core)", num(cpu.postgres_cpu_pct));
    Ok(r)
}

/// One round: every query once for business `i`, each timed.
async fn round(
    conn: &mut PgConnection,
    ids: &[BusinessId],
    i: i64,
    a: &Dashboard,
    times: &mut [Vec<f64>],
) -> anyhow::Result<()> {
    let id = ids[usize::try_from(i)?];
    let b = businesses::get_business(&mut *conn, id).await?.context("seeded business")?;
    let now = chrono::Utc::now();
    let mut k = 0;
    let mut time = |k: &mut usize, t: Instant| {
        times[*k].push(t.elapsed().as_secs_f64() * 1000.0);
        *k += 1;
    };
    let t = Instant::now();
    d::figures(conn, &b, now).await?;
    time(&mut k, t);
    let t = Instant::now();
    d::recent_activity(conn, id, 20).await?;
    time(&mut k, t);
    let all = CallFilter::default();
    let t = Instant::now();
    let first = d::calls(conn, id, &all, 25, None).await?;
    time(&mut k, t);
    let t = Instant::now();
    d::calls(conn, id, &all, 25, first.next).await?;
    time(&mut k, t);
    let missed = CallFilter { status: Some("missed".into()), ..CallFilter::default() };
    let t = Instant::now();
    d::calls(conn, id, &missed, 25, None).await?;
    time(&mut k, t);
    let t = Instant::now();
    d::leads(conn, id, &LeadFilter::default(), 25, None).await?;
    time(&mut k, t);
    let qualified = LeadFilter { status: Some("qualified".into()), ..LeadFilter::default() };
    let t = Instant::now();
    d::leads(conn, id, &qualified, 25, None).await?;
    time(&mut k, t);
    let search = LeadFilter { search: Some(format!("Customer {}", i + a.businesses)), ..LeadFilter::default() };
    let t = Instant::now();
    d::leads(conn, id, &search, 25, None).await?;
    time(&mut k, t);
    let t = Instant::now();
    let convos = d::conversations(conn, id, &ConversationFilter::default(), 25, None).await?;
    time(&mut k, t);
    let active = ConversationFilter { status: Some("active".into()) };
    let t = Instant::now();
    d::conversations(conn, id, &active, 25, None).await?;
    time(&mut k, t);
    let one = convos.items.first().map(|c| ConversationId(c.id)).context("a seeded conversation")?;
    let t = Instant::now();
    d::conversation_view(conn, id, one).await?;
    time(&mut k, t);
    Ok(())
}

/// Seeds in a few set-based statements; ids are `md5(kind || n)::uuid`, so
/// rows find each other without lookups. `$1`, `$2`, `$3` are the counts
/// (integers from the command line, written into the text).
async fn seed(pool: &PgPool, a: &Dashboard) -> anyhow::Result<()> {
    let statements = [
        "INSERT INTO businesses (id, name, owner_name, owner_email, owner_phone, business_phone, twilio_number, timezone)
         SELECT md5('biz' || i)::uuid, 'Bench HVAC ' || i, 'Owner ' || i, 'owner' || i || '@example.com',
                '+1512' || lpad(i::text, 7, '0'), '+1469' || lpad(i::text, 7, '0'), '+1737' || lpad(i::text, 7, '0'),
                'America/Chicago'
         FROM generate_series(0, $1 - 1) i",
        "INSERT INTO leads (id, business_id, phone, name, service_needed, status, created_at, updated_at)
         SELECT md5('lead' || j)::uuid, md5('biz' || (j % $1))::uuid, '+1720' || lpad(j::text, 7, '0'),
                'Customer ' || j, 'AC not cooling',
                (ARRAY['new','contacted','qualifying','qualified','booked','completed','unresponsive','lost'])[1 + j % 8],
                now() - (j % 86400) * interval '1 minute' / 24, now() - (j % 86400) * interval '1 minute' / 24
         FROM generate_series(0, $2 - 1) j",
        "INSERT INTO calls (id, business_id, twilio_call_sid, caller_phone, status, is_after_hours, created_at)
         SELECT md5('call' || j)::uuid, md5('biz' || (j % $1))::uuid, 'CA' || md5('call' || j),
                '+1720' || lpad(j::text, 7, '0'), (ARRAY['missed','answered','voicemail','missed'])[1 + j % 4],
                j % 3 = 0, now() - (j % 86400) * interval '1 minute' / 24 - interval '1 minute'
         FROM generate_series(0, $2 - 1) j",
        "INSERT INTO conversations (id, business_id, lead_id, call_id, status, created_at, updated_at)
         SELECT md5('conv' || j)::uuid, md5('biz' || (j % $1))::uuid, md5('lead' || j)::uuid, md5('call' || j)::uuid,
                (ARRAY['closed_no_response','follow_up','closed_booked','human_active','active'])[1 + j % 5],
                now() - (j % 86400) * interval '1 minute' / 24, now() - (j % 86400) * interval '1 minute' / 24
         FROM generate_series(0, $2 - 1) j",
        "INSERT INTO messages (business_id, conversation_id, direction, audience, sender_type, from_phone, to_phone,
                               body, status, created_at)
         SELECT md5('biz' || (k % $2 % $1))::uuid, md5('conv' || (k % $2))::uuid,
                CASE WHEN (k / $2) % 2 = 1 THEN 'inbound' ELSE 'outbound' END, 'customer',
                CASE WHEN (k / $2) % 2 = 1 THEN 'caller' ELSE 'ai' END,
                '+1737' || lpad((k % $2 % $1)::text, 7, '0'), '+1720' || lpad((k % $2)::text, 7, '0'),
                'Bench text ' || k || ': my AC stopped blowing cold air this morning', 'delivered',
                now() - interval '1 hour' - ((k % $2) % 86400) * interval '1 minute' / 24 + (k / $2) * interval '1 minute'
         FROM generate_series(0, $3 - 1) k",
        "ANALYZE",
    ];
    for (n, sql) in statements.iter().enumerate() {
        let t = Instant::now();
        let sql = sql
            .replace("$1", &a.businesses.to_string())
            .replace("$2", &a.leads.to_string())
            .replace("$3", &a.messages.to_string());
        sqlx::query(&sql).execute(pool).await.with_context(|| format!("seed step {n}"))?;
        eprintln!("bench dashboard: seed step {}/{} in {:.1} s", n + 1, statements.len(), t.elapsed().as_secs_f64());
    }
    Ok(())
}
