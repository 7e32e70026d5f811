//! `files push`: which archived files an off-site copy (S3) still lacks. Only closed copies are
//! sent: they never change again, so a path the destination holds at the same size is done, and a
//! push killed half-way is finished by the next (S3 puts are whole or absent). Open copies still
//! grow; they are sent once closed.

use super::layout::ArchivedFile;

/// `source` and `destination` are `(path, size)` listings relative to their roots.
pub fn to_send(source: &[(String, u64)], destination: &[(String, u64)]) -> Vec<(String, u64)> {
    let there: std::collections::HashMap<&str, u64> =
        destination.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let mut out: Vec<(String, u64)> = source
        .iter()
        .filter(|(path, _)| ArchivedFile::parse(path).is_some_and(|f| f.name.closed))
        .filter(|(path, size)| there.get(path.as_str()) != Some(size))
        .cloned()
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(items: &[(&str, u64)]) -> Vec<(String, u64)> {
        items.iter().map(|(p, s)| (p.to_string(), *s)).collect()
    }

    #[test]
    fn closed_copies_missing_or_cut_short_are_sent_open_ones_and_our_own_files_never() {
        let source = l(&[
            ("a/w/p/c/d/x.log@u.1.gz", 10),
            ("a/w/p/c/d/x.log@u.2.gz", 20),
            ("a/w/p/c/d/x.log@u.3.gz", 30),
            ("a/w/p/c/d/x.log@u.4", 40),
            (".collectors/n/checkpoint.json", 5),
        ]);
        let destination = l(&[
            ("a/w/p/c/d/x.log@u.1.gz", 10),
            ("a/w/p/c/d/x.log@u.2.gz", 7),
        ]);
        assert_eq!(
            to_send(&source, &destination),
            l(&[
                ("a/w/p/c/d/x.log@u.2.gz", 20),
                ("a/w/p/c/d/x.log@u.3.gz", 30)
            ])
        );
    }
}
