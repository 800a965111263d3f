//! A benchmark's result: latency rows (p50, p95, p99, max), single figures,
//! and for the saturation scenario one row per rate tried. Printed as
//! Markdown tables, or as one flat JSON object (`<row>_p50_ms`, …, figures by name).

use serde_json::{Map, Value};

/// Percentiles of one latency, in ms.
#[derive(Debug, Clone)]
pub struct Latency {
    /// JSON key prefix, e.g. `text_back`.
    pub key: &'static str,
    pub label: &'static str,
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(key: &'static str, label: &'static str, mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        Latency {
            key,
            label,
            n: v.len(),
            p50: pct(&v, 50.0),
            p95: pct(&v, 95.0),
            p99: pct(&v, 99.0),
            max: pct(&v, 100.0),
        }
    }
}

/// Nearest-rank percentile of sorted values; NaN when there are none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One rate of the saturation scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub rate_per_s: f64,
    pub sent: usize,
    pub completed: usize,
    pub text_back_p50_ms: f64,
    pub text_back_p99_ms: f64,
    pub webhook_p99_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub latencies: Vec<Latency>,
    /// (JSON key, label, value).
    pub figures: Vec<(&'static str, &'static str, Value)>,
    pub steps: Vec<Step>,
}

impl Report {
    pub fn new(title: String) -> Self {
        Report { title, latencies: Vec::new(), figures: Vec::new(), steps: Vec::new() }
    }

    pub fn figure(&mut self, key: &'static str, label: &'static str, value: impl Into<Value>) {
        self.figures.push((key, label, value.into()));
    }

    pub fn print_table(&self) {
        println!("{}", self.title);
        println!();
        println!("| latency (ms) | n | p50 | p95 | p99 | max |");
        println!("|---|---|---|---|---|---|");
        for l in &self.latencies {
            println!("| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |", l.label, l.n, l.p50, l.p95, l.p99, l.max);
        }
        if !self.steps.is_empty() {
            println!();
            println!("| rate (/s) | sent | completed | text-back p50 | text-back p99 | webhook p99 |");
            println!("|---|---|---|---|---|---|");
            for s in &self.steps {
                println!(
                    "| {:.0} | {} | {} | {:.2} | {:.2} | {:.2} |",
                    s.rate_per_s, s.sent, s.completed, s.text_back_p50_ms, s.text_back_p99_ms, s.webhook_p99_ms
                );
            }
        }
        println!();
        println!("| figure | value |");
        println!("|---|---|");
        for (_, label, v) in &self.figures {
            let shown = match v {
                Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f:.2}")),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("| {label} | {shown} |");
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("scenario".into(), Value::from(self.title.clone()));
        for l in &self.latencies {
            for (p, v) in [("p50", l.p50), ("p95", l.p95), ("p99", l.p99), ("max", l.max)] {
                m.insert(format!("{}_{p}_ms", l.key), num(v));
            }
        }
        for (key, _, v) in &self.figures {
            m.insert((*key).to_owned(), v.clone());
        }
        if !self.steps.is_empty() {
            m.insert("steps".into(), serde_json::to_value(&self.steps).unwrap_or(Value::Null));
        }
        Value::Object(m)
    }
}

/// A float as JSON, rounded to µs; NaN (nothing measured) as null.
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        Value::from((v * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&v, 50.0), 50.0);
        assert_eq!(pct(&v, 99.0), 99.0);
        assert_eq!(pct(&v, 100.0), 100.0);
        assert_eq!(pct(&[7.0], 99.0), 7.0);
        assert!(pct(&[], 50.0).is_nan());
    }

    #[test]
    fn the_json_is_flat_with_the_keys_the_issue_names() {
        let mut r = Report::new("missed-calls".into());
        r.latencies.push(Latency::of("webhook", "webhook", vec![1.0, 2.0]));
        r.latencies.push(Latency::of("text_back", "text-back", vec![f64::NAN; 0]));
        r.figure("completed", "completed", 2);
        let j = r.to_json();
        assert_eq!(j["webhook_p99_ms"], 2.0);
        assert!(j["text_back_p50_ms"].is_null());
        assert_eq!(j["completed"], 2);
    }
}
