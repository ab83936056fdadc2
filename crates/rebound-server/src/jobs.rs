//! The rules and reclassify endpoints (admin): `POST /v1/rules/reload`,
//! `POST /v1/reclassify` (a background run of the ledger's reclassify,
//! a dry run unless `apply=true`) and `GET /v1/jobs/{id}` (its progress).

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rebound_ledger::{ReclassifyJob, ReclassifyOptions, ReclassifyReport};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Shared = State<Arc<AppState>>;

/// Jobs kept for `GET /v1/jobs/{id}`; the oldest finished ones are
/// forgotten beyond this.
const KEPT_JOBS: usize = 100;

/// One background run.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub id: u64,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    pub apply: bool,
    pub started_by: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// The totals so far (after each committed batch), then the whole.
    pub report: ReclassifyReport,
    pub error: Option<String>,
}

/// The runs started through the API (this server's; not shared between
/// servers on one store).
#[derive(Default)]
pub struct Jobs {
    next: std::sync::atomic::AtomicU64,
    all: Mutex<BTreeMap<u64, JobStatus>>,
}

impl Jobs {
    fn update(&self, id: u64, f: impl FnOnce(&mut JobStatus)) {
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(j) = all.get_mut(&id) {
            f(j);
        }
    }

    fn get(&self, id: u64) -> Option<JobStatus> {
        let all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        all.get(&id).cloned()
    }

    fn start(&self, status: impl FnOnce(u64) -> JobStatus) -> JobStatus {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let status = status(id);
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        while all.len() >= KEPT_JOBS {
            let Some(oldest) = all
                .iter()
                .find(|(_, j)| j.state != "running")
                .map(|(k, _)| *k)
            else {
                break;
            };
            all.remove(&oldest);
        }
        all.insert(id, status.clone());
        status
    }
}

pub async fn reload_rules(State(s): Shared) -> Result<Response, ApiError> {
    let state = s.clone();
    let reloaded = tokio::task::spawn_blocking(move || state.rules.reload())
        .await
        .map_err(|e| ApiError::store(format!("reload task: {e}")))?;
    match reloaded {
        Ok(id) => {
            s.metrics.set_rules_id(&id);
            tracing::info!("rules reloaded: {id}");
            Ok(axum::Json(json!({
                "rules_id": id,
                "files": s.rules.files(),
            }))
            .into_response())
        }
        // The rules in use stay: a broken file must not stop classifying.
        Err(e) => Err(ApiError::unprocessable(format!(
            "{e:#}; the rules in use ({}) stay",
            s.rules.get().id()
        ))),
    }
}

#[derive(Deserialize)]
pub struct ReclassifyQuery {
    apply: Option<bool>,
    since: Option<String>,
    batch_size: Option<usize>,
}

pub async fn reclassify(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ReclassifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = rebound_ingest::time::now_ms();
    let since_ms = match q.since.as_deref() {
        None => None,
        Some(v) => Some(
            rebound_ingest::time::parse_since(v, now)
                .ok_or_else(|| ApiError::bad_request(format!("since={v:?}: a time or an age")))?,
        ),
    };
    let options = ReclassifyOptions {
        since_ms,
        apply: q.apply.unwrap_or(false),
        batch_size: q.batch_size.unwrap_or(10_000).clamp(1, 100_000),
        actor: format!("reclassify:{}", caller.name),
    };
    let rules = s.rules.get();
    let status = s.jobs.start(|id| JobStatus {
        id,
        state: "running",
        apply: options.apply,
        started_by: caller.name.clone(),
        started_ms: now,
        finished_ms: None,
        report: ReclassifyReport {
            rules_id: rules.id().to_string(),
            applied: options.apply,
            ..Default::default()
        },
        error: None,
    });
    let id = status.id;
    let state = s.clone();
    // A thread of its own: a run over millions of events must not hold one
    // of the blocking pool's threads that requests share.
    std::thread::Builder::new()
        .name(format!("reclassify-{id}"))
        .spawn(move || run_job(&state, id, rules, options))
        .map_err(|e| ApiError::store(format!("starting the job: {e}")))?;
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, format!("/v1/jobs/{id}"))],
        axum::Json(status),
    )
        .into_response())
}

fn run_job(s: &AppState, id: u64, rules: crate::Loaded, options: ReclassifyOptions) {
    let result = (|| -> Result<ReclassifyReport, String> {
        let mut store = rebound_ledger::open(&s.config.db).map_err(|e| e.to_string())?;
        let mut judge = rebound_ingest::Judge::new(&rules);
        let mut job = ReclassifyJob::new(&mut judge, &s.policy, options);
        let ran = rebound_ledger::reclassify::run(&mut *store, &mut job, |r| {
            // A batch was committed: checks renew their snapshots.
            s.pool.wrote();
            s.jobs.update(id, |j| j.report = r.clone());
        });
        s.pool.wrote();
        ran.map_err(|e| e.to_string())?;
        Ok(job.report)
    })();
    let finished = rebound_ingest::time::now_ms();
    s.jobs.update(id, |j| {
        j.finished_ms = Some(finished);
        match result {
            Ok(report) => {
                j.state = "done";
                j.report = report;
            }
            Err(e) => {
                tracing::error!("reclassify job {id}: {e}");
                j.state = "failed";
                // Committed batches stand; the store's paths stay out of
                // the answer.
                j.error =
                    Some("the store failed; committed batches stand, run again to finish".into());
            }
        }
    });
}

pub async fn job(State(s): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a job id")))?;
    match s.jobs.get(id) {
        Some(j) => Ok(axum::Json(j).into_response()),
        None => Err(ApiError::not_found(format!("no job {id} on this server"))),
    }
}
