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
/// core, so the plain line reports both.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// A plain figure, independent of criterion's report format.
fn plain_rate() {
    let classifier = Classifier::builtin();
    let replies = replies();
    // Warm up (compiles the rules, fills caches).
    for r in &replies {
        black_box(classifier.classify_text(r));
    }
    let rounds = 2000;
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    for _ in 0..rounds {
        for r in &replies {
            black_box(classifier.classify_text(black_box(r)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (rounds * replies.len()) as f64;
    println!(
        "classify: {:.0} replies/s ({} distinct replies, wall clock)",
        n / secs,
        replies.len()
    );
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_seconds())
        && b > a
    {
        println!(
            "classify: {:.0} replies/s per CPU-second (thread CPU time)",
            n / (b - a)
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    plain_rate();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
