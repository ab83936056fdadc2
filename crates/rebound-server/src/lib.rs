//! Rebound's HTTP interface: what `rebound serve` runs.
//!
//! This crate owns the HTTP side only — the router and its JSON API, bearer
//! tokens and scopes ([`auth`]), ESP webhook signatures ([`signatures`],
//! [`sns`]), Prometheus metrics ([`metrics`]), the OpenAPI document and the
//! dashboard page — and delegates every judgement and every byte of storage to the
//! library crates: the classifier (`/v1/classify`), the decoder
//! (`/v1/decode`), the ingest parsers and the ledger (`/v1/events/{source}`,
//! the suppression list), and insight (`/v1/report`, `/v1/alerts`,
//! `/v1/incidents`).
//!
//! State shared by all instances lives in the store, so several servers on
//! one PostgreSQL answer alike: suppressions are read from the store on
//! every check (never cached), and incidents are recomputed from the store's
//! events (cached for a few seconds only).
//!
//! The ledger's store is synchronous; handlers hold one of a few open stores
//! ([`pool`]) on tokio's blocking pool. Requests are bounded in body size,
//! time and number in flight; shutdown stops accepting and lets requests in
//! flight finish.

pub mod admission;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod headers;
pub mod jobs;
pub mod metrics;
mod parse_errors;
pub mod pool;
pub mod reports;
pub mod signatures;
pub mod sns;

pub use config::{Config, TOKENS_ENV};
pub use pool::CHECK_SNAPSHOT_MAX_AGE;

use auth::{Scope, Tokens};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use rebound_classify::Classifier;
use rebound_ledger::Policy;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// The OpenAPI 3.1 document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The dashboard as written: one self-contained page with no data in it;
/// everything it shows comes from token-protected API calls made by its
/// script. [`dashboard_page`] is what is served.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// The dashboard served: [`DASHBOARD`] with the HTML report's style and
/// chart kit put in at its markers, so both pages look and draw alike.
pub fn dashboard_page() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        DASHBOARD
            .replacen(
                "<!--rebound:style-->",
                &format!("<style>{}</style>", rebound_insight::html::STYLE),
                1,
            )
            .replacen(
                "<!--rebound:charts-->",
                &format!("<script>{}</script>", rebound_insight::html::CHARTS),
                1,
            )
    })
}

/// Every route of the API as (method, path template); the router is built
/// from the same handlers and a test checks both this list and the OpenAPI
/// document against it.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("GET", "/dashboard"),
    ("POST", "/v1/classify"),
    ("POST", "/v1/decode"),
    ("POST", "/v1/events/{source}"),
    ("HEAD", "/v1/events/{source}"),
    ("GET", "/v1/events"),
    ("GET", "/v1/suppressions"),
    ("POST", "/v1/suppressions/check"),
    ("GET", "/v1/suppressions/{address}"),
    ("PUT", "/v1/suppressions/{address}"),
    ("DELETE", "/v1/suppressions/{address}"),
    ("GET", "/v1/report"),
    ("GET", "/v1/incidents"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/rules/reload"),
    ("POST", "/v1/reclassify"),
    ("GET", "/v1/jobs/{id}"),
];

/// A set of rules as loaded: the built-in rules (shared, built once per
/// process) or the built-in rules plus user rule files.
pub type Loaded = rebound_classify::SharedClassifier;

/// The classifier used by classify, decode and reclassify, reloadable
/// from its files (SIGHUP, `POST /v1/rules/reload`): a request takes the
/// rules of the moment and keeps them to its end.
pub struct Rules {
    files: Vec<std::path::PathBuf>,
    current: std::sync::RwLock<Loaded>,
}

impl Rules {
    /// Loads `files` (none: the built-in rules alone).
    pub fn load(files: Vec<std::path::PathBuf>) -> Result<Rules, rebound_classify::RuleError> {
        let current = std::sync::RwLock::new(Self::build(&files)?);
        Ok(Rules { files, current })
    }

    fn build(files: &[std::path::PathBuf]) -> Result<Loaded, rebound_classify::RuleError> {
        if files.is_empty() {
            return Ok(Loaded::Builtin);
        }
        Ok(Loaded::Loaded(Arc::new(Classifier::from_user_files(
            files,
        )?)))
    }

    /// The rules of the moment.
    pub fn get(&self) -> Loaded {
        // A poisoned lock only means a panic elsewhere while swapping an
        // `Arc`: the value is whole either way.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the files again; on an error the rules in use stay. Returns
    /// the new rules' id.
    pub fn reload(&self) -> Result<String, rebound_classify::RuleError> {
        let fresh = Self::build(&self.files)?;
        let id = fresh.id().to_string();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(id)
    }

    /// The files the rules are read from.
    pub fn files(&self) -> &[std::path::PathBuf] {
        &self.files
    }
}

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub rules: Rules,
    pub pool: Arc<pool::StorePool>,
    /// Single-address suppression checks (batched on PostgreSQL, from held
    /// snapshots on SQLite).
    pub checks: pool::CheckBatcher,
    pub policy: Arc<Policy>,
    pub tokens: Tokens,
    pub metrics: metrics::Metrics,
    pub sendgrid: Option<signatures::SendgridVerifier>,
    pub mailgun: Option<signatures::MailgunVerifier>,
    pub mandrill: Option<signatures::MandrillVerifier>,
    pub resend: Option<signatures::SvixVerifier>,
    pub sns: Option<Arc<sns::SnsVerifier>>,
    pub incidents: api::IncidentCache,
    /// Request slots and who may hold them.
    pub admission: Arc<admission::Admission>,
    /// Report slots and recent answers.
    pub reports: reports::Reports,
    /// Reclassify runs started through the API.
    pub jobs: jobs::Jobs,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("opening the store {url}: {source}")]
    Store {
        url: String,
        source: rebound_ledger::Error,
    },
}

impl AppState {
    /// Opens the store and reads policy, rules, tokens and keys. `env_tokens`
    /// is the value of [`TOKENS_ENV`], if any.
    pub fn new(config: Config, env_tokens: Option<&str>) -> Result<Arc<AppState>, StartError> {
        let cfg_err = |e: String| StartError::Config(e);
        config.validate().map_err(|e| cfg_err(e.0))?;
        let tokens = config.tokens(env_tokens).map_err(|e| cfg_err(e.0))?;
        if tokens.is_empty() {
            return Err(cfg_err(format!(
                "no token configured: every endpoint but /healthz needs one ([[tokens]] in the config file or {TOKENS_ENV})"
            )));
        }
        let policy = match &config.policy {
            None => Policy::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| cfg_err(format!("reading {}: {e}", p.display())))?;
                Policy::from_toml(&text).map_err(|e| cfg_err(format!("{}: {e}", p.display())))?
            }
        };
        let rules = Rules::load(config.rules.iter().cloned().collect())
            .map_err(|e| cfg_err(format!("rules: {e}")))?;
        let sendgrid = config
            .webhooks
            .sendgrid
            .as_ref()
            .map(|c| signatures::SendgridVerifier::new(&c.public_key, c.max_age_seconds))
            .transpose()
            .map_err(cfg_err)?;
        let mailgun = config
            .webhooks
            .mailgun
            .as_ref()
            .map(|c| signatures::MailgunVerifier::new(&c.signing_key, c.max_age_seconds));
        let mandrill = config
            .webhooks
            .mandrill
            .as_ref()
            .map(|c| signatures::MandrillVerifier::new(&c.webhook_key, &c.url));
        let resend = config
            .webhooks
            .resend
            .as_ref()
            .map(|c| signatures::SvixVerifier::new(&c.signing_secret, c.max_age_seconds))
            .transpose()
            .map_err(cfg_err)?;
        let sns = config
            .webhooks
            .ses
            .as_ref()
            .filter(|c| c.verify_sns_signatures)
            .map(|c| {
                Arc::new(sns::SnsVerifier::new(
                    c.certificate_dir.clone(),
                    c.fetch_certificates,
                ))
            });
        let pool = pool::StorePool::open(&config.db, config.store_connections).map_err(|e| {
            StartError::Store {
                url: config.db.clone(),
                source: e,
            }
        })?;
        let checks = pool::CheckBatcher::start(&config.db, 2, pool.writes()).map_err(|e| {
            StartError::Store {
                url: config.db.clone(),
                source: e,
            }
        })?;
        let metrics = metrics::Metrics::new();
        metrics.set_rules_id(rules.get().id());
        Ok(Arc::new(AppState {
            rules,
            pool,
            checks,
            policy: Arc::new(policy),
            tokens: Tokens::new(tokens),
            metrics,
            sendgrid,
            mailgun,
            mandrill,
            resend,
            sns,
            incidents: api::IncidentCache::default(),
            admission: admission::Admission::new(&config.limits),
            reports: reports::Reports::new(&config.limits),
            jobs: jobs::Jobs::default(),
            config,
        }))
    }
}

async fn need_read(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorize(&s, Scope::Read, req, next).await
}
async fn need_ingest(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorize(&s, Scope::Ingest, req, next).await
}
async fn need_admin(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorize(&s, Scope::Admin, req, next).await
}

async fn authorize(s: &AppState, scope: Scope, mut req: Request, next: Next) -> Response {
    match s.tokens.authorize(req.headers(), scope) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The frame around every request, in one layer (each layer costs a clone
/// of the route per request): bound the requests in flight (one that cannot
/// start within `queue_seconds` gets 503 rather than piling up), count and
/// time it by route template and status, and give any error answer the JSON
/// error shape.
async fn frame(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| {
            ROUTES
                .iter()
                .find(|(_, template)| *template == m.as_str())
                .map(|(_, template)| *template)
        })
        .unwrap_or("unmatched");
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    // A Basic challenge only for clients that use Basic and for webhook
    // URLs; a browser's login box must not pop up for API clients.
    let basic_challenge = headers::asked_for_basic(req.headers()) || route == "/v1/events/{source}";
    let started = Instant::now();
    let mut resp = match oversized_head(&req) {
        Some(refusal) => refusal.into_response(),
        None => admitted(&s, route, req, next).await,
    };
    headers::harden(&mut resp, basic_challenge);
    let labels = metrics::HttpLabels {
        route,
        method,
        status: resp.status().as_u16(),
    };
    s.metrics.requests.get_or_create(&labels).inc();
    s.metrics
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// Receives the body (under its own deadline, holding no handler slot),
/// then runs the request in a handler slot: see [`admission`].
async fn admitted(s: &AppState, route: &str, req: Request, next: Next) -> Response {
    let addr = req.extensions().get::<admission::ClientAddr>().map(|a| a.0);
    let req = if expects_body(&req) {
        let _receiving = match s.admission.receiving(addr) {
            Ok(t) => t,
            Err(refusal) => return refused(refusal),
        };
        let limits = &s.config.limits;
        let max_bytes = match route {
            "/v1/classify" | "/v1/suppressions/check" => limits.small_body_bytes,
            _ => limits.body_bytes,
        };
        match receive_body(req, limits, max_bytes).await {
            Ok(req) => req,
            Err(e) => return e.into_response(),
        }
    } else {
        req
    };
    let priority = matches!(route, "/healthz" | "/metrics" | "/v1/events/{source}");
    let credential = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match s.admission.admit(priority, credential, addr).await {
        Ok(_ticket) => error::json_errors(next.run(req).await).await,
        Err(refusal) => refused(refusal),
    }
}

fn refused(refusal: admission::Refusal) -> Response {
    match refusal {
        admission::Refusal::Busy => {
            ApiError::unavailable("too many requests in flight; retry shortly").into_response()
        }
        admission::Refusal::OverShare(why) => ApiError::too_many(why).into_response(),
    }
}

/// The longest request target and header block answered; beyond them a
/// request gets 414 or 431 in the same JSON shape as every other error.
/// (hyper's own limits, far above these, answer before any of this runs,
/// in JSON too through `parse_errors`; [`serve`] raises hyper's header
/// count so that ours decides with the more precise message.)
const MAX_TARGET_BYTES: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 32 * 1024;
const MAX_HEADERS: usize = 100;

fn oversized_head(req: &Request) -> Option<ApiError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(ApiError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {target} bytes; at most {MAX_TARGET_BYTES}"),
        ));
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "{} header fields, {bytes} bytes; at most {MAX_HEADERS} fields and {MAX_HEADER_BYTES} bytes",
                headers.len()
            ),
        ));
    }
    None
}

/// Whether the request says it carries a body.
fn expects_body(req: &Request) -> bool {
    use axum::body::HttpBody;
    req.body().size_hint().exact() != Some(0)
}

/// The whole body, received within `limits.body_seconds` and at most
/// `max_bytes` (the route's limit).
async fn receive_body(
    req: Request,
    limits: &config::Limits,
    max_bytes: usize,
) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let received =
        tokio::time::timeout(limits.body_timeout(), axum::body::to_bytes(body, max_bytes))
            .await
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        limits.body_timeout().as_secs()
                    ),
                )
            })?;
    match received {
        Ok(bytes) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Err(e) if is_length_limit(&e) => Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes",
                limits.body_bytes
            ),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body could not be read: {e}"
        ))),
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The router with every route, limit and layer.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = &state.config.limits;
    let small = DefaultBodyLimit::max(limits.small_body_bytes);
    let read = Router::new()
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/v1/classify", post(api::classify).layer(small))
        .route("/v1/decode", post(api::decode))
        .route("/v1/events", get(api::events))
        .route("/v1/suppressions", get(api::list_suppressions))
        .route("/v1/suppressions/check", post(api::check_many).layer(small))
        .route("/v1/suppressions/{address}", get(api::check_one))
        .route("/v1/report", get(api::report))
        .route("/v1/incidents", get(api::incidents))
        .route("/v1/alerts", get(api::alerts))
        .route_layer(middleware::from_fn_with_state(state.clone(), need_read));
    let ingest = Router::new()
        .route(
            "/v1/events/{source}",
            post(api::ingest).head(api::ingest_probe),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), need_ingest));
    let admin = Router::new()
        .route(
            "/v1/suppressions/{address}",
            axum::routing::put(api::suppress).delete(api::unsuppress),
        )
        .route("/v1/rules/reload", post(jobs::reload_rules))
        .route("/v1/reclassify", post(jobs::reclassify))
        .route("/v1/jobs/{id}", get(jobs::job))
        .route_layer(middleware::from_fn_with_state(state.clone(), need_admin));
    let open = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/", get(api::dashboard))
        .route("/dashboard", get(api::dashboard));
    Router::new()
        .merge(read)
        .merge(ingest)
        .merge(admin)
        .merge(open)
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.timeout(),
        ))
        // Last resort: a bug that panics answers 500 instead of dropping
        // the connection (input is validated before it gets that far).
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(state.clone(), frame))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting and
/// waits for the requests in flight to finish.
///
/// HTTP/1.1 through hyper directly rather than `axum::serve`, for the one
/// setting that lacks: a client must send its request headers within
/// `limits.header_seconds` (also bounding idle keep-alive connections), so
/// slow or silent clients cannot hold connections forever.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let header_timeout = std::time::Duration::from_secs(state.config.limits.header_seconds.max(1));
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait for
                    // connections to close rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Answers are small and written whole: send them at once.
        let _ = stream.set_nodelay(true);
        // Each request learns its client's address (for the per-address
        // shares of `admission`).
        let client = admission::ClientAddr(peer.ip());
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                app.clone(),
                move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(client);
                    req
                },
            ));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // One above `MAX_HEADERS`, so that `oversized_head` answers a
            // request just over it with its precise message (hyper answers
            // longer ones, in JSON too through `parse_errors`). Not more:
            // hyper fills a slot array of this size for every request.
            .max_headers(MAX_HEADERS + 1)
            .serve_connection(
                TokioIo::new(parse_errors::JsonParseErrors::new(stream)),
                service,
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
