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

/// The table is written as it is laid out from rows that count index names instead of keeping
/// them; it must still say what the full JSON listing says, snapshot for snapshot.
#[test]
fn the_streamed_table_agrees_with_the_full_listing() {
    for (flavour, version) in VERSIONS {
        let env = seeded(flavour, version);
        let json = env
            .run(&["snapshot", "list", "-r", REPO, "-o", "json"])
            .ok()
            .json();
        let run = env.run(&["snapshot", "list", "-r", REPO]);
        let table = run.ok().stdout.clone();
        let mut lines = table.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["NAME", "STATE", "AGE", "DURATION", "INDICES", "SHARDS", "FAILED"],
            "{}",
            env.label
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
        let full = json.as_array().unwrap();
        assert_eq!(rows.len(), full.len(), "{}", env.label);
        for (row, snap) in rows.iter().zip(full) {
            assert_eq!(row[0], snap["snapshot"].as_str().unwrap(), "{}", env.label);
            assert_eq!(row[1], snap["state"].as_str().unwrap(), "{}", env.label);
            assert_eq!(
                row[4],
                snap["indices"].as_array().unwrap().len().to_string(),
                "{}",
                env.label
            );
            let shards = &snap["shards"];
            assert_eq!(
                row[5],
                format!("{}/{}", shards["successful"], shards["total"]),
                "{}",
                env.label
            );
        }
    }
}
