//! `callrecover demo`: the whole product on one machine with no configuration.

use std::path::PathBuf;

use anyhow::Context;
use rust_decimal::Decimal;
use sqlx::PgPool;

use activities::domain::{PhoneNumber, Zone};
use activities::store::businesses::{self, Business, NewBusiness};

use crate::app::{self, Mode};
use crate::postgres_finder;
use crate::settings::Settings;

/// The demo business's Twilio number (555-01xx numbers are reserved for fiction).
const DEMO_NUMBER: &str = "+15125550100";

pub async fn run() -> anyhow::Result<()> {
    let data_dir =
        std::env::var("CALLRECOVER_DATA_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(".demo-data"));
    let env_url = std::env::var("DATABASE_URL").ok();
    let pg = postgres_finder::find_or_start(env_url, &data_dir.join("pg")).await?;
    let url = pg.url.clone();
    let settings =
        Settings::from_lookup(|k| if k == "DATABASE_URL" { Some(url.clone()) } else { std::env::var(k).ok() })?;
    crate::telemetry::init(settings.log_format);
    let pool = app::connect(&settings).await?;
    workflows::migrate(&pool).await.context("migrating the demo database")?;
    let business = seed(&pool).await?;
    let running = app::start(settings.clone(), pool, Mode { web: true, workers: true }).await?;
    let addr = running.addr.map(|a| a.to_string()).unwrap_or_default();
    println!();
    println!("CallRecover demo is running (database: {:?}).", pg.origin);
    println!("  Phone simulator: http://{addr}/simulator   <- ring {} and let it ring out", business.name);
    println!("  Health:          http://{addr}/health");
    println!("  Webhooks:        {}/webhook/voice/incoming (signed with the simulator token)", settings.base_url);
    println!("Press Ctrl-C to stop.");
    app::shutdown_signal().await;
    let result = running.stop().await;
    pg.stop().await?;
    result
}

/// The demo business, created once.
pub async fn seed(pool: &PgPool) -> anyhow::Result<Business> {
    let number = PhoneNumber::parse(DEMO_NUMBER)?;
    if let Some(b) = businesses::find_by_twilio_number(pool, &number).await? {
        return Ok(b);
    }
    let new = demo_business(number, PhoneNumber::parse("+15125550199")?)?;
    Ok(businesses::insert_business(pool, &new).await?)
}

/// The demo business's owner and set-up, on these numbers.
pub fn demo_business(twilio_number: PhoneNumber, business_phone: PhoneNumber) -> anyhow::Result<NewBusiness> {
    Ok(NewBusiness {
        name: "Smith's Heating & Air".into(),
        owner_name: "John Smith".into(),
        owner_email: "john@smithsheating.example".into(),
        owner_phone: PhoneNumber::parse("+15125550142")?,
        business_phone,
        twilio_number,
        timezone: Zone::parse("America/Chicago")?,
        avg_job_value: Decimal::new(35000, 2),
        services: vec!["AC Repair".into(), "Heating".into(), "Maintenance".into()],
        ai_greeting: None,
        call_screening: true,
        appointment_minutes: 90,
    })
}
