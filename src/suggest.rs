//! "Did you mean …?": the closest known name to a misspelt one, for gate-file
//! errors (fields, targets, secrets) and for missing containers.

/// Edit distance over characters, counting a swap of two neighbours as one
/// edit (optimal string alignment): `jbo` is one typo away from `job`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The known name nearest to `want`, when it is near enough to be a typo:
/// at most a third of its length away (and at least one edit allowed).
pub fn closest<'a>(want: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (want.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (edit_distance(want, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("min_target", "min_targets"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("jbo", "job"), 1);
    }

    #[test]
    fn closest_finds_typos_and_ignores_strangers() {
        let known = ["min_targets", "job", "backend_target"];
        assert_eq!(closest("min_target", known), Some("min_targets"));
        assert_eq!(closest("jbo", known), Some("job"));
        assert_eq!(closest("retention", known), None);
    }
}
