//! Reproducible fault draws for the test fakes (Twilio, OpenAI): a seeded
//! xorshift that fails a given share of requests and says which kind of
//! failure, so the same seed replays the same faults.

#[derive(Debug, Clone, Copy, Default)]
pub struct FaultDice {
    /// Share of draws (0–1) that are faults; 0 never fails.
    rate: f64,
    state: u64,
}

impl FaultDice {
    pub fn new(rate: f64, seed: u64) -> Self {
        FaultDice { rate, state: seed | 1 }
    }

    /// None: no fault this time; Some(k): a fault of kind `k` in `0..kinds`, equally likely.
    pub fn roll(&mut self, kinds: u64) -> Option<u64> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut x = self.state.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        let hit = ((x % 1_000_000) as f64) < self.rate * 1_000_000.0;
        hit.then(|| (x / 1_000_000) % kinds.max(1))
    }
}
