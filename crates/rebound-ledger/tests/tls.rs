//! TLS to a real PostgreSQL server, by `sslmode` and `sslrootcert` in the
//! URL. Needs `REBOUND_TEST_POSTGRES_URL` (a server on 127.0.0.1 with TLS
//! on) and `REBOUND_TEST_POSTGRES_CA` (the CA its certificate chains to; the
//! certificate names only `localhost`). `.ci/run` sets both up. Without them
//! the tests say SKIPPED and pass, except under `CI=true`, where they fail.

struct Server {
    /// `postgres://user@127.0.0.1:port/db`
    url: String,
    ca: String,
}

fn server() -> Option<Server> {
    let url = std::env::var("REBOUND_TEST_POSTGRES_URL").unwrap_or_default();
    let ca = std::env::var("REBOUND_TEST_POSTGRES_CA").unwrap_or_default();
    if url.is_empty() || ca.is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!(
                "REBOUND_TEST_POSTGRES_URL and REBOUND_TEST_POSTGRES_CA must be set in CI (.ci/run)"
            );
        }
        eprintln!(
            "SKIPPED: PostgreSQL with TLS not available (set REBOUND_TEST_POSTGRES_URL and REBOUND_TEST_POSTGRES_CA)"
        );
        return None;
    }
    assert!(
        url.contains("127.0.0.1"),
        "the TLS tests connect by IP and by the name localhost: {url}"
    );
    Some(Server { url, ca })
}

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// Whether the session the URL opens is encrypted, as the server sees it.
fn encrypted(url: &str) -> Result<bool, String> {
    let mut client = rebound_ledger::connect_to_schema(url).map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[test]
fn verify_full_connects_when_the_name_matches() {
    let Some(s) = server() else { return };
    let by_name = s.url.replace("127.0.0.1", "localhost");
    let url = with_params(
        &by_name,
        &format!("sslmode=verify-full&sslrootcert={}", s.ca),
    );
    assert_eq!(encrypted(&url), Ok(true));
}

#[test]
fn verify_full_refuses_a_certificate_for_another_name() {
    let Some(s) = server() else { return };
    // The certificate names localhost, not 127.0.0.1.
    let url = with_params(&s.url, &format!("sslmode=verify-full&sslrootcert={}", s.ca));
    let err = encrypted(&url).expect_err("name mismatch must fail");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

#[test]
fn verify_ca_needs_the_chain_not_the_name() {
    let Some(s) = server() else { return };
    let url = with_params(&s.url, &format!("sslmode=verify-ca&sslrootcert={}", s.ca));
    assert_eq!(encrypted(&url), Ok(true));
    // Without the test CA the public roots are used, and they do not know it.
    let url = with_params(&s.url, "sslmode=verify-ca");
    let err = encrypted(&url).expect_err("unknown issuer must fail");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

#[test]
fn require_encrypts_and_disable_does_not() {
    let Some(s) = server() else { return };
    assert_eq!(encrypted(&with_params(&s.url, "sslmode=require")), Ok(true));
    assert_eq!(
        encrypted(&with_params(&s.url, "sslmode=disable")),
        Ok(false)
    );
    // libpq's default, prefer, takes TLS when the server offers it.
    assert_eq!(encrypted(&s.url), Ok(true));
}

#[test]
fn the_ledger_opens_its_store_over_verified_tls() {
    let Some(s) = server() else { return };
    let schema = format!("rebound_tls_{}", std::process::id());
    let url = with_params(
        &s.url.replace("127.0.0.1", "localhost"),
        &format!("sslmode=verify-full&sslrootcert={}&schema={schema}", s.ca),
    );
    let store = rebound_ledger::open(&url);
    let opened = store.as_ref().map(|_| ()).map_err(|e| e.to_string());
    drop(store);
    rebound_ledger::PgStore::drop_schema(&url, &schema).unwrap();
    assert_eq!(opened, Ok(()));
}
