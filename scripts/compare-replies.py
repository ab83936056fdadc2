#!/usr/bin/env python3
"""Rebound and Perl Sisimai side by side on the labelled provider replies
(crates/rebound-classify/tests/provider_replies/*.toml): reason agreement,
dead-address recall and false hard bounces of sender-side refusals.

Usage: scripts/compare-replies.py [path/to/rebound]   (needs `perl -MSisimai`)
"""
import json, pathlib, subprocess, sys, tomllib

root = pathlib.Path(__file__).resolve().parent.parent
rebound = sys.argv[1] if len(sys.argv) > 1 else str(root / "target/release/rebound")
rows = []
for f in sorted((root / "crates/rebound-classify/tests/provider_replies").glob("*.toml")):
    data = tomllib.loads(f.read_text())
    for key in data:
        for r in data[key] if isinstance(data[key], list) else []:
            if isinstance(r, dict) and "reply" in r:
                rows.append(r)
replies = [r["reply"].replace("\n", " ") for r in rows]

ours = subprocess.run([rebound, "classify", "-"], input="\n".join(replies) + "\n",
                      capture_output=True, text=True, check=True).stdout.splitlines()
ours = [json.loads(l) for l in ours]

perl = r'''
use Sisimai; use Sisimai::SMTP::Error;
while (my $t = <STDIN>) {
    chomp $t;
    my $r = Sisimai->match($t) // "";
    my $h = $r ne "" ? (Sisimai::SMTP::Error->soft_or_hard($r, $t) // "") : "";
    print "$r\t$h\n";
}
'''
theirs = subprocess.run(["perl", "-e", perl], input="\n".join(replies) + "\n",
                        capture_output=True, text=True, check=True).stdout.splitlines()
theirs = [l.split("\t") for l in theirs]

def score(name, verdicts):
    reason = sum(v[0] == r["reason"] for v, r in zip(verdicts, rows))
    dead = [v for v, r in zip(verdicts, rows) if r["hardbounce"]]
    recall = sum(v[1] for v in dead)
    sender = [v for v, r in zip(verdicts, rows) if r.get("side") == "sender"]
    false_hard = sum(v[1] for v in sender)
    print(f"| {name} | {reason}/{len(rows)} ({100*reason/len(rows):.1f}%) | "
          f"{recall}/{len(dead)} ({100*recall/len(dead):.1f}%) | {false_hard} of {len(sender)} |")

print("| classifier | reason agrees | dead addresses found (hardbounce) | sender-side refusals made hard |")
print("|---|---|---|---|")
score("Rebound", [(v["reason"], v["hardbounce"]) for v in ours])
score(f"Perl Sisimai", [(t[0], len(t) > 1 and t[1] == "hard") for t in theirs])

if "--diff" in sys.argv:
    for v, t, r in zip(ours, theirs, rows):
        mine = v["reason"] == r["reason"]
        sis = t[0] == r["reason"]
        if mine != sis:
            print(("REBOUND " if mine else "SISIMAI ") + f"{r['reason']:<14} rebound={v['reason']:<14} sisimai={t[0]:<14} {r['reply'][:90]}")
