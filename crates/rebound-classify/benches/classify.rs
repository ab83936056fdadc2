//! Classification throughput over a realistic mix of replies: the common
//! shapes (bare, DSN-prefixed, Postfix- and Exim-wrapped, multi-line) and
//! the common causes, with varying addresses, IPs and ids. Prints criterion's
//! elements/s and a plain `classify: N replies/s` line.

use criterion::{Criterion, Throughput, criterion_group};
use rebound_classify::Classifier;
use std::hint::black_box;
use std::time::Instant;

const TEMPLATES: &[&str] = &[
    "550 5.1.1 <{user}@{domain}>: Recipient address rejected: User unknown in virtual mailbox table",
    "smtp; 550 5.1.1 <{user}@{domain}>... User Unknown",
    "host mx{n}.{domain}[{ip}] said: 550 5.1.1 <{user}@{domain}>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. Learn more at\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser {id}.{n} - gsmtp",
    "552 5.2.2 <{user}@{domain}>: Recipient address rejected: Mailbox full",
    "452 4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp {id} - gsmtp",
    "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}",
    "550 5.7.606 Access denied, banned sending IP [{ip}]. To request removal from this list please visit https://sender.office.com/ and follow the directions. (AS16012609) [{id}.namprd04.prod.outlook.com]",
    "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    "451 4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S3113) [{id}.eurprd02.prod.outlook.com]",
    "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n550 5.7.26 authenticate with at least one of SPF or DKIM. {id} - gsmtp",
    "550 5.7.1 Relaying denied",
    "554 5.7.1 <{user}@{domain}>: Relay access denied",
    "550 5.7.1 Service unavailable, mailbox does not exist OXSUS001_403",
    "421 4.7.0 Try again later, closing connection. (EHLO) {id} - gsmtp",
    "SMTP error from remote mail server after RCPT TO:<{user}@{domain}>: host mx.{domain} [{ip}]: 550 5.1.1 <{user}@{domain}>... User Unknown",
    "connect to mx.{domain}[{ip}]:25: Connection timed out",
    "Host or domain name not found. Name service error for name={domain} type=A: Host not found",
    "550 5.7.25 [{ip}] The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP. {id} - gsmtp",
    "554 5.6.0 This message has been scored as spam with a probability of more than 90%",
    "552 5.3.4 Message size exceeds fixed limit",
    "550 5.2.1 The email account that you tried to reach is disabled. {id} - gsmtp",
    "421 4.3.2 Connection rate limit exceeded.",
    "host mx.{domain}[{ip}] refused to talk to me: 554 5.7.1 Client host [{ip}] blocked using b.barracudacentral.org",
    "550 5.7.509 Access denied, sending domain [{DOMAIN}] does not pass DMARC verification and has a DMARC policy of reject. [{id}.JPNP286.PROD.OUTLOOK.COM 2024-06-11T09:04:02.679Z 08DC8850F12E1502]",
    "451 4.3.0 Error: queue file write error",
    "550 Unknown user {user}@{domain}",
    "250 2.0.0 OK {n} {id} - gsmtp",
    "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [{id}.eop-nam02.prod.protection.outlook.com]",
    "554 Message not allowed - [PH01] Email not accepted for policy reasons.",
];

const USERS: &[&str] = &["kijitora", "john.smith", "a", "info", "no-reply+tag", "x_y"];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.co.jp",
    "mail.example.org",
    "gmail.com",
    "outlook.com",
];
const IDS: &[&str] = &[
    "x1si1584129pfn",
    "98e67ed59e1d1-2c2d0e28189si64",
    "MW4PR04CA0381",
    "a2b3c4d5e6f7",
];

fn replies() -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in TEMPLATES.iter().enumerate() {
        for v in 0..10 {
            let k = i * 7 + v;
            let domain = DOMAINS[k % DOMAINS.len()];
            out.push(
                t.replace("{user}", USERS[k % USERS.len()])
                    .replace("{domain}", domain)
                    .replace("{DOMAIN}", &domain.to_ascii_uppercase())
                    .replace("{ip}", &format!("192.0.{}.{}", k % 255, (k * 37) % 255))
                    .replace("{id}", IDS[k % IDS.len()])
                    .replace("{n}", &(k * 13).to_string()),
            );
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let classifier = Classifier::builtin();
    let replies = replies();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(replies.len() as u64));
    group.bench_function("mix", |b| {
        b.iter(|| {
            for r in &replies {
                black_box(classifier.classify_text(black_box(r)));
            }
        })
    });
    group.finish();
}

/// CPU time used by this thread, in seconds (Linux; `None` elsewhere).
/// On a shared machine the wall clock also counts time spent waiting for a
/// core, so the plain line is computed from this instead.
#[cfg(target_os = "linux")]
fn thread_cpu_seconds() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

/// A plain figure, independent of criterion's report format.
fn plain_rate(rounds: usize) {
    let classifier = Classifier::builtin();
    let replies = replies();
    // Warm up (compiles the rules, fills caches).
    for r in &replies {
        black_box(classifier.classify_text(r));
    }
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    for _ in 0..rounds {
        for r in &replies {
            black_box(classifier.classify_text(black_box(r)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (rounds * replies.len()) as f64;
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_seconds())
        && b > a
    {
        // The figure of record: one thread's CPU time.
        println!("classify: {:.0} replies/s", n / (b - a));
    }
    if secs > 0.0 {
        println!(
            "classify (wall clock, {} distinct replies): {:.0} replies/s",
            replies.len(),
            n / secs
        );
    }
}

/// Every verdict, one per line, for comparing the classifier's outputs
/// before and after a change: the bench mix, then (when the Sisimai corpus
/// is at hand) each record's diagnostic text, bare and as a full
/// observation.
fn dump(path: &str) {
    use std::fmt::Write as _;
    let classifier = Classifier::builtin();
    let mut out = String::new();
    for r in replies() {
        writeln!(out, "{:?}", classifier.classify_text(&r)).expect("write to a String");
    }
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sisimai/sisimai51.jsonl");
    if let Ok(text) = std::fs::read_to_string(corpus) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(rec) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let s = |k: &str| {
                rec.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let opt = |k: &str| Some(s(k)).filter(|v| !v.is_empty());
            let text = match (s("diagnostictype").as_str(), s("diagnosticcode").as_str()) {
                (_, "") => String::new(),
                ("", code) => code.to_string(),
                (kind, code) => format!("{kind}; {code}"),
            };
            let obs = rebound_core::Observation {
                text: text.clone(),
                replycode: s("replycode").parse().ok(),
                status: s("deliverystatus").parse().ok(),
                smtpcommand: opt("smtpcommand"),
                rhost: opt("rhost"),
                recipient: opt("recipient"),
                action: opt("action"),
                ..Default::default()
            };
            writeln!(out, "{:?}", classifier.classify_text(&text)).expect("write to a String");
            writeln!(out, "{:?}", classifier.classify(&obs)).expect("write to a String");
        }
    }
    std::fs::write(path, out).expect("write the dump");
}

criterion_group!(benches, bench);

/// `REBOUND_BENCH_DUMP=FILE` writes every verdict to FILE and exits;
/// `REBOUND_BENCH_ROUNDS=N` runs only the plain measurement, N rounds (for
/// `valgrind --tool=callgrind`: the difference between two round counts is
/// the classification cost alone).
fn main() {
    if let Ok(path) = std::env::var("REBOUND_BENCH_DUMP") {
        dump(&path);
        return;
    }
    if let Some(rounds) = std::env::var("REBOUND_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        plain_rate(rounds);
        return;
    }
    plain_rate(5000);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
