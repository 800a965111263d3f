//! The corpus format and a lenient scorer: case- and punctuation-insensitive
//! text, address parts in any order, fillers ignored in times, and a service
//! judged by its category plus the key words of the expected description.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use activities::gsm;

use activities::corpus::{self, same_address, same_service, same_text, same_time};
pub use activities::corpus::{Conversation, Expect};

/// The lead as the database holds it after the conversation.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct LeadRow {
    pub service_needed: Option<String>,
    pub service_category: Option<String>,
    pub urgency: Option<String>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub preferred_time: Option<String>,
    pub status: String,
}

/// What one replayed conversation produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub lead: LeadRow,
    pub emergency: bool,
    pub opted_out: bool,
    /// Messages that reached the caller after the opt-out turn.
    pub after_opt_out: usize,
    pub help_answered: bool,
    pub unanswered_turns: usize,
    /// Every text the caller received, in order.
    pub replies: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Miss {
    pub id: String,
    pub field: &'static str,
    pub expected: Option<String>,
    pub got: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub responder: String,
    pub conversations: usize,
    /// Right answers over every expected non-null lead field.
    pub field_accuracy: f64,
    /// Per field, over the conversations where it is expected non-null.
    pub per_field: BTreeMap<&'static str, f64>,
    /// Per field, values filled in where the corpus expects none.
    pub invented: BTreeMap<&'static str, usize>,
    pub emergency_recall: f64,
    pub emergency_precision: f64,
    pub opt_outs_honoured: f64,
    pub help_answered: f64,
    pub price_quotes: usize,
    pub single_segment_share: f64,
    pub replies: usize,
    pub unanswered_turns: usize,
    /// How many leads ended in each status (new, qualifying, qualified, opted_out, …).
    pub lead_statuses: BTreeMap<String, usize>,
    pub misses: Vec<Miss>,
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Conversation>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    corpus::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

const FIELDS: [&str; 6] = ["service_needed", "service_category", "urgency", "name", "address", "preferred_time"];

/// (expected, got, right) for each of `FIELDS`.
fn fields(x: &Expect, g: &LeadRow) -> [(Option<String>, Option<String>, bool); 6] {
    let category = g.service_category.clone().unwrap_or_else(|| "other".into());
    let urgency = g.urgency.clone().unwrap_or_else(|| "unknown".into());
    [
        (
            x.service_needed.clone(),
            g.service_needed.clone(),
            same_service(x, g.service_needed.as_deref(), g.service_category.as_deref()),
        ),
        (Some(x.service_category.clone()), Some(category.clone()), category == x.service_category),
        (Some(x.urgency.clone()), Some(urgency.clone()), urgency == x.urgency),
        (x.name.clone(), g.name.clone(), same_text(&x.name, &g.name)),
        (x.address.clone(), g.address.clone(), same_address(&x.address, &g.address)),
        (x.preferred_time.clone(), g.preferred_time.clone(), same_time(&x.preferred_time, &g.preferred_time)),
    ]
}

pub fn report(corpus: &[Conversation], outcomes: &[Outcome], responder: String) -> Report {
    let mut right = [0usize; 6];
    let mut total = [0usize; 6];
    let mut invented: BTreeMap<&'static str, usize> = FIELDS.iter().map(|f| (*f, 0)).collect();
    let mut misses = Vec::new();
    for (c, o) in corpus.iter().zip(outcomes) {
        for (k, (expected, got, ok)) in fields(&c.expect, &o.lead).into_iter().enumerate() {
            if expected.is_none() {
                *invented.entry(FIELDS[k]).or_default() += usize::from(got.is_some());
                continue;
            }
            total[k] += 1;
            right[k] += usize::from(ok);
            if !ok {
                misses.push(Miss { id: c.id.clone(), field: FIELDS[k], expected, got });
            }
        }
    }
    let replies: Vec<&String> = outcomes.iter().flat_map(|o| &o.replies).collect();
    Report {
        responder,
        conversations: corpus.len(),
        field_accuracy: ratio(right.iter().sum(), total.iter().sum()),
        per_field: FIELDS.iter().enumerate().map(|(k, f)| (*f, ratio(right[k], total[k]))).collect(),
        invented,
        emergency_recall: share(corpus, outcomes, |c, _| c.expect.emergency, |_, o| o.emergency),
        emergency_precision: share(corpus, outcomes, |_, o| o.emergency, |c, _| c.expect.emergency),
        opt_outs_honoured: share(
            corpus,
            outcomes,
            |c, _| c.expect.opt_out_at_turn.is_some(),
            |_, o| o.opted_out && o.after_opt_out == 0,
        ),
        help_answered: share(corpus, outcomes, |c, _| c.expect.help_at_turn.is_some(), |_, o| o.help_answered),
        price_quotes: replies.iter().filter(|r| quotes_price(r)).count(),
        single_segment_share: ratio(replies.iter().filter(|r| single_segment(r)).count(), replies.len()),
        replies: replies.len(),
        unanswered_turns: outcomes.iter().map(|o| o.unanswered_turns).sum(),
        lead_statuses: outcomes.iter().fold(BTreeMap::new(), |mut m, o| {
            *m.entry(o.lead.status.clone()).or_default() += 1;
            m
        }),
        misses,
    }
}

/// Of the conversations where `of` holds, the share where `hit` holds too (1 when none).
fn share(
    corpus: &[Conversation],
    outcomes: &[Outcome],
    of: impl Fn(&Conversation, &Outcome) -> bool,
    hit: impl Fn(&Conversation, &Outcome) -> bool,
) -> f64 {
    let pairs: Vec<_> = corpus.iter().zip(outcomes).filter(|(c, o)| of(c, o)).collect();
    ratio(pairs.iter().filter(|(c, o)| hit(c, o)).count(), pairs.len())
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

/// A `$` followed by a digit, or "dollars".
pub fn quotes_price(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(2).any(|w| w[0] == '$' && w[1].is_ascii_digit()) || text.to_lowercase().contains("dollar")
}

pub fn single_segment(text: &str) -> bool {
    text.chars().count() <= 160 && gsm::is_gsm7(text)
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut t = format!("callrecover eval: {} conversations, responder {}\n", self.conversations, self.responder);
        t += "| metric | value |\n|---|---|\n";
        for (field, acc) in &self.per_field {
            let invented = self.invented.get(field).copied().unwrap_or(0);
            t += &format!("| {field} | {:.1}% ({invented} invented) |\n", acc * 100.0);
        }
        t += &format!("| **field accuracy** | {:.1}% |\n", self.field_accuracy * 100.0);
        t += &format!("| emergency recall | {:.1}% |\n", self.emergency_recall * 100.0);
        t += &format!("| emergency precision | {:.1}% |\n", self.emergency_precision * 100.0);
        t += &format!("| opt-outs honoured | {:.1}% |\n", self.opt_outs_honoured * 100.0);
        t += &format!("| help answered | {:.1}% |\n", self.help_answered * 100.0);
        t += &format!("| price quotes (must be 0) | {} |\n", self.price_quotes);
        t += &format!("| single-segment replies | {:.1}% of {} |\n", self.single_segment_share * 100.0, self.replies);
        t += &format!("| unanswered turns | {} |\n", self.unanswered_turns);
        t += &format!("| lead statuses | {:?} |\n", self.lead_statuses);
        for m in &self.misses {
            t += &format!("MISS {} {}: expected {:?}, got {:?}\n", m.id, m.field, m.expected, m.got);
        }
        t
    }
}
