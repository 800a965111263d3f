//! The `callrecover` command line.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "callrecover", version, about = "Every missed call becomes an SMS conversation.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Web server and workers in one process.
    Serve {
        /// Web only (scale workers separately with `callrecover worker`).
        #[arg(long)]
        no_workers: bool,
    },
    /// Workers only, to scale out on other machines.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Run the whole product locally on embedded defaults.
    Demo,
    /// Onboard and inspect businesses.
    #[command(subcommand)]
    Business(Box<BusinessCommand>),
    /// Measure webhook latency and text-back time on the simulator transport.
    Bench(crate::commands::bench::BenchArgs),
    /// Kill worker processes at random while playing missed calls and replies; check nothing was lost or sent twice.
    CrashTest(crate::commands::crash_test::CrashTestArgs),
    /// Replay a labelled conversation corpus through the whole product and score the leads.
    Eval(crate::commands::eval::EvalArgs),
}

#[derive(Debug, Subcommand)]
pub enum BusinessCommand {
    /// Create a business and print it as JSON.
    Add(AddBusiness),
    /// List businesses as JSON.
    List,
    /// Show one business (by id or Twilio number) as JSON.
    Show { business: String },
    /// Change a business's settings and print it as JSON.
    Update(UpdateBusiness),
    /// Create an API key for a business (id or Twilio number); it is printed once.
    ApiKey { business: String },
}

#[derive(Debug, Args)]
pub struct AddBusiness {
    #[arg(long)]
    pub name: String,
    /// The Twilio number customers call (E.164).
    #[arg(long)]
    pub twilio_number: String,
    /// The business's real phone, rung first.
    #[arg(long)]
    pub business_phone: String,
    #[arg(long)]
    pub owner_name: String,
    /// Where owner alerts are texted.
    #[arg(long)]
    pub owner_phone: String,
    #[arg(long)]
    pub owner_email: String,
    /// IANA time zone of the business.
    #[arg(long, default_value = "America/New_York")]
    pub timezone: String,
    /// Average job value in dollars, for revenue estimates.
    #[arg(long, default_value = "350")]
    pub avg_job_value: String,
    /// Comma-separated services, e.g. "AC Repair,Heating".
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Custom first text (the business name and opt-out wording are added if missing).
    #[arg(long)]
    pub greeting: Option<String>,
    /// Count any connected call as answered (no "press 1" whisper).
    #[arg(long)]
    pub no_screening: bool,
}

#[derive(Debug, Args)]
pub struct UpdateBusiness {
    /// Id or Twilio number.
    pub business: String,
    /// trial, active, paused or cancelled.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub greeting: Option<String>,
    /// on or off.
    #[arg(long)]
    pub screening: Option<String>,
    /// available, busy, offline or vacation (away: the AI answers at once).
    #[arg(long)]
    pub owner_status: Option<String>,
    /// How long the owner gets to answer a text first, e.g. 60s, 2m, 0s.
    #[arg(long)]
    pub owner_window: Option<String>,
    /// The Google place id review requests link to ("" turns them off).
    #[arg(long)]
    pub google_place_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_bench_scenario_parses_with_the_global_options() {
        for args in [
            &["callrecover", "bench", "dashboard", "--json"][..],
            &["callrecover", "bench", "saturation", "--tenants", "50", "--flood", "10"],
            &["callrecover", "bench", "missed-calls", "--rate", "100", "--duration", "10s", "--json"],
            &["callrecover", "bench", "--tenants", "2", "conversations"],
            &["callrecover", "bench", "sleeping", "--sleepers", "10"],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
