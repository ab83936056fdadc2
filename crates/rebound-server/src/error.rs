//! One error shape for every failure: `{"error": "...", "detail": "..."}`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer: the status, a short machine-readable name and a
/// sentence for the person reading it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    /// The store failed or is unreachable: the client should retry (an ESP
    /// will), nothing of the request was kept.
    /// The client already holds its share of the server (429).
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "detail": self.detail});
        let mut resp = (self.status, axum::Json(body)).into_response();
        // The 401 challenge (WWW-Authenticate) is added by the frame, which
        // knows whether the client asked for Basic: `headers::harden`.
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

impl ApiError {
    /// A store failure: the whole error (which may name files, hosts and
    /// schemas) goes to the server's log, the client learns only that it
    /// may retry.
    pub fn store(e: impl std::fmt::Display) -> Self {
        tracing::warn!("store error: {e}");
        ApiError::unavailable(
            "the store failed and nothing was changed; retry later (the server's log has the cause)",
        )
    }
}

impl From<rebound_ledger::Error> for ApiError {
    fn from(e: rebound_ledger::Error) -> Self {
        ApiError::store(e)
    }
}

/// Turns error answers produced outside our handlers (axum's rejections,
/// the body limit's 413, the timeout's 408, 404/405) into the JSON error
/// shape, keeping their status and text.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let error = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("").to_string()
    } else {
        text
    };
    let body = serde_json::json!({"error": error, "detail": detail}).to_string();
    let mut resp = Response::from_parts(parts, Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_names_no_file_or_host() {
        let e =
            ApiError::store("opening /var/lib/rebound/rebound.db: unable to open database file");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.detail.contains("/var/lib"), "{}", e.detail);
        assert!(!e.detail.contains("rebound.db"), "{}", e.detail);
    }
}
