//! Rebound's insight: what the ledger's events add up to.
//!
//! This crate owns
//! * **rates** ([`model`]): accepted volume, bounce (hard/soft), deferral,
//!   complaint, authentication-failure and block rates over any time window,
//!   grouped by provider, recipient domain, sending IP, campaign, reason,
//!   owner or reply pattern, and as time series in minute/hour/day buckets
//!   (the definitions are on [`model::Counts`]);
//! * **incident detection** ([`detect`]): one streaming pass over events in
//!   time order that opens an incident when one provider's failures of one
//!   code family and pattern repeat at volume, classifies it (reputation,
//!   blocklist, authentication, rate limiting, content, list quality) and
//!   closes it when it falls back; usable in batch and incrementally;
//! * **rate alerts** ([`alerts`]): every provider, domain, IP and campaign
//!   whose bounce, hard-bounce, complaint or deferral rate is confidently
//!   over its threshold (counted in the same pass);
//! * **reports** ([`report`], [`render`], [`html`]): the terminal summary,
//!   JSON, and a self-contained HTML page with charts;
//! * **evaluation** ([`synth`]): a seeded generator of realistic delivery
//!   streams with injected incidents, and the scoring of detection against
//!   them.
//!
//! It reads the ledger's `events` table read-only ([`source`]: SQLite or
//! PostgreSQL, the same URL as the ledger) and writes nothing to it except
//! through the ledger's own API (the generator's events). Rates and
//! incidents are computed in one pass whose memory grows with the number of
//! groups, never with the number of events.

pub mod alerts;
pub mod detect;
pub mod html;
pub mod model;
pub mod render;
pub mod report;
pub mod source;
pub mod synth;

pub use alerts::{Alert, AlertConfig, Metric, Scope};
pub use detect::{Change, DetectConfig, Detector, Incident, IncidentKind};
pub use model::{Bucket, Counts, Dimension, OwnedRow, Rates, Row};
pub use report::{Bounds, Report, ReportOptions, build, build_within};
pub use source::Window;
