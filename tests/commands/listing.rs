//! What each command's listing costs the server, from the double's cost model: one metadata blob
//! read per snapshot in a verbose answer, none for `verbose=false`; and 7.14+ pages.

use es_double::Flavour;

use crate::harness::*;

const SNAPSHOTS: usize = 2500;

fn seeded(flavour: Flavour, version: &str) -> Env {
    Env::start(flavour, version, |s| {
        s.seed_snapshots(REPO, LOCATION, SNAPSHOTS, 1_700_000_000_000);
    })
}

fn reads(env: &Env) -> u64 {
    std::mem::take(&mut env.double.state().metadata_reads)
}

#[test]
fn decisions_that_need_no_times_read_no_snapshot_metadata() {
    for (flavour, version) in VERSIONS {
        let env = seeded(flavour, version);
        env.run(&[
            "prune",
            "-r",
            REPO,
            "--keep-days",
            "45",
            "--age-from",
            "name",
            "--dry-run",
        ])
        .ok();
        assert_eq!(reads(&env), 0, "{}: prune by name", env.label);
        env.run(&["coverage", "-r", REPO, "--days", "3"]).ok();
        assert_eq!(reads(&env), 0, "{}: coverage", env.label);
        // restore --date reads only the snapshots holding that day (24 a day here), not 2,500.
        env.run(&[
            "restore",
            "-r",
            REPO,
            "--date",
            "2023.11.13",
            "--rename-prefix",
            "r-",
            "--dry-run",
        ])
        .ok();
        let r = reads(&env);
        assert!(
            (1..=26).contains(&r),
            "{}: restore --date read {r}",
            env.label
        );
        // By start time, prune needs every snapshot's details: as many reads as snapshots.
        env.run(&["prune", "-r", REPO, "--keep-days", "45", "--dry-run"])
            .ok();
        assert_eq!(
            reads(&env),
            SNAPSHOTS as u64,
            "{}: prune by start time",
            env.label
        );
    }
}

#[test]
fn full_listings_page_where_the_server_pages() {
    for (flavour, version) in VERSIONS {
        let env = seeded(flavour, version);
        let run = env.run(&["snapshot", "list", "-r", REPO, "-o", "json"]);
        run.ok();
        assert_eq!(
            run.json().as_array().map(Vec::len),
            Some(SNAPSHOTS),
            "{}",
            env.label
        );
        let pages = count_requests(
            &env,
            "GET /_snapshot/ks-log-snapshots/_all?sort=start_time&size=1000",
        );
        let paged = flavour == Flavour::Elasticsearch && !version.starts_with("6.");
        assert_eq!(pages, if paged { 3 } else { 0 }, "{}", env.label);
    }
}
