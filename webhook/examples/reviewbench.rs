//! Micro-benchmark of one admission review, without TLS or HTTP: what `review()` costs on one core.
//!
//!   reviewbench REVIEW.json [ROUNDS]      (REVIEW.json from `loadgen body STATEFULSET.yaml`)
//!
//! Prints the best of ROUNDS (default 5) rounds of about 0.4 s each, in µs per call, for:
//! `review` (parse + plan + encode); `count_values` of the body followed by `review_counted` (the
//! handler before 2026-12-01 22:00), and `value_bound` followed by it (what runs per request now);
//! and for reference the pieces they are made of: the whole body and the object alone parsed to a
//! `serde_json::Value` (what the webhook built until 2026-12-01 23:30), the object parsed to the
//! borrowed `Doc` the webhook builds now (`object::parse`, managedFields and last-applied skipped),
//! the value count and bound, `inject::plan` over the `serde_json::Value` (the plugin's path: a
//! conversion to a `Doc`, then the planner) and `inject::plan_borrowed` over the `Doc`.
//! Build it at two commits and run both binaries one after the other to compare implementations
//! on the same machine state.

use std::hint::black_box;
use std::time::{Duration, Instant};

use logbackup_core::inject::{self, Options};
use logbackup_webhook::object;
use logbackup_webhook::review::{count_values, review, review_counted, value_bound, ReviewLimits};
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: reviewbench REVIEW.json [ROUNDS]")?;
    let rounds: usize = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let body = std::fs::read(path)?;
    let options = Options::default();
    let limits = ReviewLimits::default();
    let parsed: Value = serde_json::from_slice(&body)?;
    let object = parsed
        .pointer("/request/object")
        .ok_or("the review has no request.object")?
        .clone();
    let first = review(body.as_slice(), &options, &limits)?;
    println!("verdict: {}", first.verdict.label());
    let report = |name: &str, micros: f64| println!("{name:<28} {micros:>9.1} µs");
    report(
        "review (body -> answer)",
        best(rounds, || {
            review(black_box(body.as_slice()), &options, &limits)
        }),
    );
    report(
        "count + review_counted",
        best(rounds, || {
            let values = count_values(black_box(&body));
            review_counted(body.as_slice(), Some(values), &options, &limits)
        }),
    );
    report(
        "bound + review_counted",
        best(rounds, || {
            let values = value_bound(black_box(&body));
            review_counted(body.as_slice(), Some(values), &options, &limits)
        }),
    );
    report(
        "body -> serde_json::Value",
        best(rounds, || {
            serde_json::from_slice::<Value>(black_box(&body)).map(|v| v.is_object())
        }),
    );
    let object_text = object.to_string();
    report(
        "object text -> Value",
        best(rounds, || {
            serde_json::from_str::<Value>(black_box(&object_text)).map(|v| v.is_object())
        }),
    );
    report(
        "object text -> borrowed Doc",
        best(rounds, || {
            object::parse(black_box(&object_text)).map(|v| v.is_object())
        }),
    );
    report(
        "count_values(body)",
        best(rounds, || count_values(black_box(&body))),
    );
    report(
        "value_bound(body)",
        best(rounds, || value_bound(black_box(&body))),
    );
    report(
        "inject::plan(object)",
        best(rounds, || inject::plan(black_box(&object), &options)),
    );
    let doc = object::parse(&object_text)?;
    report(
        "inject::plan_borrowed(doc)",
        best(rounds, || inject::plan_borrowed(black_box(&doc), &options)),
    );
    Ok(())
}

/// Best of `rounds` rounds of about 0.4 s, in µs per call.
fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            for _ in 0..50 {
                black_box(f());
            }
            n += 50;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    best
}
