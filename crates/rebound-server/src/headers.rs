//! Response headers every answer carries: browser hardening for the pages
//! (a Content-Security-Policy that allows only the pages' own scripts, by
//! hash), and an authentication challenge that does not make a browser pop
//! up its Basic login box for API clients that never asked for Basic.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The inline `<script>` elements of a page (those without a `type`, or
/// with a JavaScript one: JSON data blocks never run), each as
/// `'sha256-…'` for `script-src`.
fn script_hashes(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body = &after[tag_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains("application/json") {
            let digest = Sha256::digest(&body.as_bytes()[..close]);
            out.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body[close..];
    }
    out
}

/// A policy for a page whose only scripts are its own inline ones. Inline
/// styles stay allowed (the pages are self-contained; a style cannot run
/// code), everything else comes from this server or nowhere.
fn policy_for(page_scripts: &[&str]) -> String {
    let hashes: Vec<String> = page_scripts.iter().flat_map(|p| script_hashes(p)).collect();
    format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        if hashes.is_empty() {
            "'none'".to_string()
        } else {
            hashes.join(" ")
        }
    )
}

/// The Content-Security-Policy of every HTML answer: the dashboard and the
/// HTML report (its script is fixed; its data is a JSON block that never
/// runs).
pub fn content_security_policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let report_page = format!("<script>{}</script>", rebound_insight::html::SCRIPT);
        HeaderValue::from_str(&policy_for(&[crate::dashboard_page(), &report_page]))
            .expect("a policy made of ASCII")
    })
}

/// Whether the request authenticated (or tried to) with HTTP Basic.
pub fn asked_for_basic(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("basic "))
}

/// Adds the hardening headers, and the 401 challenge: Bearer always, Basic
/// only when the client used Basic or the route is a webhook URL (ESPs
/// send the URL's credentials, and some only after a Basic challenge).
pub fn harden(resp: &mut Response, basic_challenge: bool) {
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy().clone(),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(if basic_challenge {
                "Bearer realm=\"rebound\", Basic realm=\"rebound\""
            } else {
                "Bearer realm=\"rebound\""
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_scripts_that_run() {
        let page = "<script type=\"application/json\" id=\"d\">{\"a\":1}</script>\
                    <script>alert(1)</script>";
        let hashes = script_hashes(page);
        assert_eq!(hashes.len(), 1);
        // sha256("alert(1)"), base64: checked with `printf 'alert(1)' |
        // openssl dgst -sha256 -binary | base64`.
        assert_eq!(
            hashes[0],
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }

    #[test]
    fn the_policy_names_both_pages_scripts() {
        let policy = content_security_policy().to_str().unwrap().to_string();
        assert!(policy.contains("frame-ancestors 'none'"));
        // The dashboard's chart kit and its own script, the report's one.
        assert_eq!(policy.matches("'sha256-").count(), 3, "{policy}");
        assert!(crate::dashboard_page().contains("window.RK="));
        assert!(!policy.contains("unsafe-eval"));
        assert!(!policy.contains("script-src 'unsafe-inline'"));
    }
}
