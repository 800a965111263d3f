//! `callrecover business …`: onboarding from the shell.

use std::str::FromStr;

use anyhow::{bail, Context};
use rust_decimal::Decimal;
use sqlx::PgPool;

use activities::domain::{BusinessId, PhoneNumber, Zone};
use activities::store::businesses::{self, Business, NewBusiness};

use crate::cli::{AddBusiness, BusinessCommand, UpdateBusiness};

pub async fn run(pool: &PgPool, cmd: BusinessCommand) -> anyhow::Result<()> {
    let out = match cmd {
        BusinessCommand::Add(a) => serde_json::to_value(add(pool, a).await?)?,
        BusinessCommand::List => serde_json::to_value(businesses::list_businesses(pool).await?)?,
        BusinessCommand::Show { business } => serde_json::to_value(find(pool, &business).await?)?,
        BusinessCommand::Update(u) => serde_json::to_value(update(pool, u).await?)?,
        BusinessCommand::ApiKey { business } => {
            let b = find(pool, &business).await?;
            let key = activities::store::api_keys::generate();
            activities::store::api_keys::insert_key(pool, b.id, &key).await?;
            serde_json::json!({ "business_id": b.id, "api_key": key, "note": "shown once; store it now" })
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn phone(flag: &str, raw: &str) -> anyhow::Result<PhoneNumber> {
    PhoneNumber::parse(raw).with_context(|| format!("--{flag} {raw:?}"))
}

pub fn new_business(a: AddBusiness) -> anyhow::Result<NewBusiness> {
    let avg = Decimal::from_str(a.avg_job_value.trim())
        .with_context(|| format!("--avg-job-value {:?} is not an amount", a.avg_job_value))?;
    if avg.is_sign_negative() {
        bail!("--avg-job-value cannot be negative");
    }
    if !a.owner_email.contains('@') {
        bail!("--owner-email {:?} is not an email address", a.owner_email);
    }
    Ok(NewBusiness {
        name: a.name.trim().to_owned(),
        owner_name: a.owner_name.trim().to_owned(),
        owner_email: a.owner_email.trim().to_owned(),
        owner_phone: phone("owner-phone", &a.owner_phone)?,
        business_phone: phone("business-phone", &a.business_phone)?,
        twilio_number: phone("twilio-number", &a.twilio_number)?,
        timezone: Zone::parse(&a.timezone).context("--timezone")?,
        avg_job_value: avg.round_dp(2),
        services: a.services.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        ai_greeting: a.greeting,
        call_screening: !a.no_screening,
        appointment_minutes: 90,
    })
}

async fn add(pool: &PgPool, a: AddBusiness) -> anyhow::Result<Business> {
    let new = new_business(a)?;
    match businesses::insert_business(pool, &new).await {
        Ok(b) => Ok(b),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("businesses_twilio_number_key") => {
            bail!("another business already uses Twilio number {}", new.twilio_number)
        }
        Err(e) => Err(e).context("could not create the business"),
    }
}

/// By id, or by the Twilio number.
pub async fn find(pool: &PgPool, key: &str) -> anyhow::Result<Business> {
    let found = match BusinessId::from_str(key) {
        Ok(id) => businesses::get_business(pool, id).await?,
        Err(_) => businesses::find_by_twilio_number(pool, &phone("business", key)?).await?,
    };
    found.with_context(|| format!("no business {key:?}"))
}

async fn update(pool: &PgPool, u: UpdateBusiness) -> anyhow::Result<Business> {
    let b = find(pool, &u.business).await?;
    if let Some(status) = &u.status {
        if !matches!(status.as_str(), "trial" | "active" | "paused" | "cancelled") {
            bail!("--status must be trial, active, paused or cancelled");
        }
        businesses::set_subscription_status(pool, b.id, status).await?;
    }
    if let Some(g) = &u.greeting {
        sqlx::query("UPDATE businesses SET ai_greeting = NULLIF($2, '') WHERE id = $1")
            .bind(b.id)
            .bind(g)
            .execute(pool)
            .await?;
    }
    if let Some(s) = &u.screening {
        let on = match s.as_str() {
            "on" => true,
            "off" => false,
            _ => bail!("--screening must be on or off"),
        };
        sqlx::query("UPDATE businesses SET call_screening = $2 WHERE id = $1")
            .bind(b.id)
            .bind(on)
            .execute(pool)
            .await?;
    }
    if let Some(st) = &u.owner_status {
        if !matches!(st.as_str(), "available" | "busy" | "offline" | "vacation") {
            bail!("--owner-status must be available, busy, offline or vacation");
        }
        sqlx::query("UPDATE businesses SET owner_status = $2 WHERE id = $1").bind(b.id).bind(st).execute(pool).await?;
    }
    if let Some(w) = &u.owner_window {
        let secs = parse_window(w)?;
        sqlx::query("UPDATE businesses SET owner_window_seconds = $2 WHERE id = $1")
            .bind(b.id)
            .bind(secs)
            .execute(pool)
            .await?;
    }
    if let Some(place) = &u.google_place_id {
        activities::store::reviews::set_place_id(pool, b.id, Some(place)).await?;
    }
    find(pool, &b.id.to_string()).await
}

/// `90`, `90s`, `2m` → seconds, at most an hour.
pub fn parse_window(raw: &str) -> anyhow::Result<i32> {
    let t = raw.trim().to_ascii_lowercase();
    let (num, mult) = match t.strip_suffix('m') {
        Some(n) => (n, 60),
        None => (t.strip_suffix('s').unwrap_or(&t), 1),
    };
    let n: i32 = num.trim().parse().with_context(|| format!("--owner-window {raw:?}: expected e.g. 60s or 2m"))?;
    let secs = n.checked_mul(mult).filter(|s| (0..=3600).contains(s));
    secs.with_context(|| format!("--owner-window {raw:?} must be between 0s and 60m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> AddBusiness {
        AddBusiness {
            name: " Cool Air ".into(),
            twilio_number: "+15125550100".into(),
            business_phone: "(512) 555-0199".into(),
            owner_name: "Ana".into(),
            owner_phone: "512.555.0142".into(),
            owner_email: "ana@example.com".into(),
            timezone: "America/Denver".into(),
            avg_job_value: "412.499".into(),
            services: vec!["AC Repair".into(), " ".into()],
            greeting: None,
            no_screening: false,
        }
    }

    #[test]
    fn owner_windows_read_seconds_and_minutes() {
        assert_eq!(parse_window("0s").unwrap(), 0);
        assert_eq!(parse_window("90").unwrap(), 90);
        assert_eq!(parse_window("2m").unwrap(), 120);
        assert!(parse_window("-5s").is_err());
        assert!(parse_window("2h").is_err());
        assert!(parse_window("61m").is_err());
    }

    #[test]
    fn onboarding_input_is_parsed_into_typed_values() {
        let b = new_business(args()).unwrap();
        assert_eq!(b.name, "Cool Air");
        assert_eq!(b.business_phone.as_str(), "+15125550199");
        assert_eq!(b.owner_phone.as_str(), "+15125550142");
        assert_eq!(b.timezone.to_string(), "America/Denver");
        assert_eq!(b.avg_job_value.to_string(), "412.50");
        assert_eq!(b.services, vec!["AC Repair".to_owned()]);
        assert!(b.call_screening);
    }

    #[test]
    fn each_bad_flag_is_named_in_the_error() {
        type Breaker = fn(&mut AddBusiness);
        let cases: [(Breaker, &str); 5] = [
            (|a| a.twilio_number = "12".into(), "--twilio-number"),
            (|a| a.owner_phone = "call me".into(), "--owner-phone"),
            (|a| a.timezone = "Eastern Time".into(), "--timezone"),
            (|a| a.avg_job_value = "lots".into(), "--avg-job-value"),
            (|a| a.owner_email = "nobody".into(), "--owner-email"),
        ];
        for (break_it, flag) in cases {
            let mut a = args();
            break_it(&mut a);
            let e = format!("{:#}", new_business(a).unwrap_err());
            assert!(e.contains(flag), "{flag}: {e}");
        }
    }
}
