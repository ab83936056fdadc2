use rebound_classify::{Classifier, reply};
use std::time::Instant;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
fn main() {
    let texts: Vec<String> = (0..300).map(|i| format!("host mx{i}.example.com[192.0.2.{}] said: 550 5.1.1 <user{i}@example.com>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)", i % 255)).collect();
    let c = Classifier::builtin();
    c.classify_text("x");
    let n = 3000;
    let (t, c0) = (Instant::now(), cpu());
    if std::env::var("P").is_ok() { for _ in 0..n { for x in &texts { std::hint::black_box(reply::parse(x)); } } }
    println!("parse wall {:?}/reply cpu {:.0}ns", t.elapsed() / (n * 300), (cpu()-c0)*1e9/(n as f64*300.0));
    let (t, c0) = (Instant::now(), cpu());
    for _ in 0..n { for x in &texts { std::hint::black_box(c.classify_text(x)); } }
    println!("classify wall {:?}/reply cpu {:.0}ns", t.elapsed() / (n * 300), (cpu()-c0)*1e9/(n as f64*300.0));
}
