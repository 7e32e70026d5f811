//! Planning throughput: StatefulSets planned per second, per fixture, on one core.
//! `cargo bench --bench inject`. A plain harness: criterion would add plotters and rayon to every
//! `clippy --all-targets` build for one number.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::hint::black_box;
use std::time::{Duration, Instant};

use logbackup::inject::{self, Options};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inject");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && !p.to_string_lossy().ends_with(".injected.yaml")
        })
        .collect();
    names.sort();
    println!(
        "{:<36} {:>12} {:>12} {:>12}",
        "fixture", "first plan/s", "re-plan/s", "µs/plan"
    );
    for path in names {
        let text = std::fs::read_to_string(&path).expect("read");
        let doc = logbackup::manifest::parse_documents("bench", &text)
            .expect("parse")
            .remove(0);
        let options = Options::default();
        let Ok(_) = inject::plan(&doc, &options) else {
            continue;
        };
        let mut injected = doc.clone();
        inject::apply(&mut injected, &options).expect("apply");
        let first = rate(|| inject::plan(black_box(&doc), &options));
        let again = rate(|| inject::plan(black_box(&injected), &options));
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        println!(
            "{name:<36} {first:>12.0} {again:>12.0} {:>12.1}",
            1e6 / first
        );
    }
}

/// Best of 5 one-second-ish rounds, in calls per second.
fn rate<T>(mut f: impl FnMut() -> T) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            for _ in 0..100 {
                black_box(f());
            }
            n += 100;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}
