//! `callrecover business …` against a real database.

use e2e::helpers::*;
use sqlx::PgPool;
use web::cli::{AddBusiness, BusinessCommand, UpdateBusiness};
use web::commands::business;

fn cool_air(name: &str, no_screening: bool) -> AddBusiness {
    AddBusiness {
        name: name.into(),
        twilio_number: "+15125550111".into(),
        business_phone: "+15125550112".into(),
        owner_name: "Ana".into(),
        owner_phone: "+15125550113".into(),
        owner_email: "ana@example.com".into(),
        timezone: "America/Denver".into(),
        avg_job_value: "410".into(),
        services: vec![],
        greeting: None,
        no_screening,
    }
}

#[sqlx::test(migrations = false)]
async fn business_add_then_update_owner_status_and_window(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    business::run(&app.pool, BusinessCommand::Add(cool_air("Cool Air", true))).await.unwrap();
    let dup = cool_air("Copy", false);
    let e = business::run(&app.pool, BusinessCommand::Add(dup)).await.unwrap_err();
    assert!(e.to_string().contains("already uses Twilio number"), "{e}");
    let update = UpdateBusiness {
        business: "+15125550111".into(),
        status: Some("paused".into()),
        greeting: None,
        screening: None,
        owner_status: Some("offline".into()),
        owner_window: Some("0s".into()),
        google_place_id: Some(" ChIJN1t_tDeuEmsRUsoyG83frY4 ".into()),
    };
    business::run(&app.pool, BusinessCommand::Update(update)).await.unwrap();
    let (status, owner, window, screening): (String, String, i32, bool) = sqlx::query_as(
        "SELECT subscription_status, owner_status, owner_window_seconds, call_screening FROM businesses WHERE name = 'Cool Air'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), owner.as_str(), window, screening), ("paused", "offline", 0, false));
    let place: Option<String> = sqlx::query_scalar("SELECT google_place_id FROM businesses WHERE name = 'Cool Air'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(place.as_deref(), Some("ChIJN1t_tDeuEmsRUsoyG83frY4"));
    app.stop().await;
}
