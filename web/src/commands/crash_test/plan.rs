//! When calls arrive and when workers die: a fixed call rate, and one kill at
//! a random moment in each equal slot of the traffic, at a random worker.

use std::fmt;
use std::time::Duration;

use super::CrashTestArgs;

/// Kills closer together than this would measure overlapping recoveries.
const MIN_KILL_GAP: Duration = Duration::from_secs(2);

pub struct Plan {
    pub workflows: usize,
    pub rate: f64,
    /// Offsets from the start of the traffic, ascending, with the victim's index.
    pub kills: Vec<(Duration, usize)>,
    /// Offsets of the PostgreSQL restarts: the middle of equal slots of the traffic.
    pub restarts: Vec<Duration>,
    pub seed: u64,
    pub settle_timeout: Duration,
}

impl Plan {
    pub fn new(args: &CrashTestArgs) -> Self {
        let seed = args.seed.unwrap_or_else(clock_seed);
        let mut rng = Rng(seed);
        let mut rate = args.rate;
        if args.kills > 0 {
            let max_rate = args.workflows as f64 / (args.kills as f64 * MIN_KILL_GAP.as_secs_f64());
            rate = rate.min(max_rate);
        }
        let traffic = args.workflows as f64 / rate;
        let slot = traffic / args.kills.max(1) as f64;
        let kills = (0..args.kills)
            .map(|i| {
                let at = slot * (i as f64 + 0.15 + 0.7 * rng.unit());
                (Duration::from_secs_f64(at), rng.below(args.workers))
            })
            .collect();
        let restarts = (0..args.restart_postgres)
            .map(|i| Duration::from_secs_f64(traffic * (i as f64 + 0.5) / args.restart_postgres as f64))
            .collect();
        Plan {
            workflows: args.workflows,
            rate,
            kills,
            restarts,
            seed,
            settle_timeout: Duration::from_secs(args.settle_timeout_s),
        }
    }

    /// When call `i` arrives, from the start of the traffic.
    pub fn call_at(&self, i: usize) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at: Vec<String> = self.kills.iter().map(|(t, w)| format!("{:.1}s→w{w}", t.as_secs_f64())).collect();
        let restarts: Vec<String> = self.restarts.iter().map(|t| format!("{:.1}s", t.as_secs_f64())).collect();
        write!(
            f,
            "{} calls at {:.1}/s, kills at [{}], PostgreSQL restarts at [{}], seed {}",
            self.workflows,
            self.rate,
            at.join(" "),
            restarts.join(" "),
            self.seed
        )
    }
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos as u64) ^ u64::from(std::process::id())
}

/// SplitMix64: enough randomness to place kills, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(workflows: usize, kills: usize) -> CrashTestArgs {
        CrashTestArgs {
            workflows,
            kills,
            workers: 2,
            webs: 2,
            rate: 20.0,
            twilio_latency_ms: 50,
            settle_timeout_s: 60,
            seed: Some(7),
            twilio_faults: 0.0,
            restart_postgres: 0,
            llm_faults: None,
            keep_failed: false,
        }
    }

    #[test]
    fn kills_fall_inside_the_traffic_one_per_slot_and_two_seconds_apart_at_least_on_average() {
        let plan = Plan::new(&args(60, 3));
        assert!((plan.rate - 10.0).abs() < 1e-9, "60 calls and 3 kills need 6 s of traffic: {}", plan.rate);
        let traffic = plan.call_at(60).as_secs_f64();
        let slot = traffic / 3.0;
        for (i, (at, victim)) in plan.kills.iter().enumerate() {
            let at = at.as_secs_f64();
            assert!(at >= slot * i as f64 && at < slot * (i + 1) as f64, "kill {i} at {at}");
            assert!(*victim < 2);
        }
    }

    #[test]
    fn postgres_restarts_sit_in_the_middle_of_equal_slots_of_the_traffic() {
        let mut a = args(60, 0);
        a.restart_postgres = 2;
        let plan = Plan::new(&a);
        let traffic = plan.call_at(60).as_secs_f64();
        let at: Vec<f64> = plan.restarts.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(at, vec![traffic * 0.25, traffic * 0.75]);
        assert!(Plan::new(&args(60, 3)).restarts.is_empty());
    }

    #[test]
    fn the_seed_fixes_the_plan() {
        let (a, b) = (Plan::new(&args(500, 10)), Plan::new(&args(500, 10)));
        assert_eq!(a.kills, b.kills);
        assert_eq!(a.rate, 20.0);
    }
}
