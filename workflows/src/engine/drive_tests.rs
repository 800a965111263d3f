//! How a round's due texts are split into lanes: one per recipient, each in
//! the rows' order, the lanes in the order their first text comes.

use activities::domain::{BusinessId, MessageId, PhoneNumber};
use activities::store::messages::{Claim, Message};
use activities::store::run_outbox::DueText;

use super::drive::lanes;

fn due(to: &str) -> DueText {
    let phone = |p: &str| PhoneNumber::parse(p).expect("phone");
    let message = Message {
        id: MessageId::new(),
        business_id: BusinessId::new(),
        conversation_id: None,
        run_id: None,
        purpose: None,
        direction: "outbound".into(),
        audience: "customer".into(),
        from_phone: phone("+15125550199"),
        to_phone: phone(to),
        body: "hi".into(),
        validity_seconds: None,
        twilio_message_sid: None,
        status: "queued".into(),
        attempts: 0,
        error_code: None,
        last_error: None,
        last_attempt_at: None,
        next_attempt_at: None,
        num_media: 0,
        created_at: chrono::Utc::now(),
    };
    DueText { message, claim: Claim::Claimed("queued".into()) }
}

const CALLER: &str = "+15125550123";
const OWNER: &str = "+15125550142";

fn indexes(due: &[DueText]) -> Vec<Vec<usize>> {
    lanes(due).into_iter().map(|lane| lane.into_iter().map(|(i, _)| i).collect()).collect()
}

#[test]
fn each_recipient_has_one_lane_in_the_rows_order() {
    let texts = [due(CALLER), due(OWNER), due(OWNER), due(CALLER), due(OWNER)];
    assert_eq!(indexes(&texts), vec![vec![0, 3], vec![1, 2, 4]]);
}

#[test]
fn one_recipient_is_one_lane_and_none_is_none() {
    assert_eq!(indexes(&[due(OWNER), due(OWNER)]), vec![vec![0, 1]]);
    assert!(indexes(&[]).is_empty());
}
