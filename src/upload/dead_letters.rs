//! Dead letters: captures given up (`dead/`) and queue entries that could not be read
//! (`corrupt/`). They are the only captures ever deleted without being uploaded, and only
//! beyond `UPLOAD_QUEUE_DEAD_MAX_ENTRIES`, oldest first (as the plugin prunes its `dead/`);
//! the choice is sans IO, the caller deletes and logs.

/// One dead letter: where it is and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub folder: &'static str,
    pub image_id: String,
    pub modified_unix_us: u64,
}

/// The dead letters to delete so that at most `keep` remain: the oldest, by last write, ties
/// by id so the choice never depends on the order of the listing.
pub fn to_prune(mut letters: Vec<DeadLetter>, keep: u64) -> Vec<DeadLetter> {
    let excess = (letters.len() as u64).saturating_sub(keep) as usize;
    letters
        .sort_by(|a, b| (a.modified_unix_us, &a.image_id).cmp(&(b.modified_unix_us, &b.image_id)));
    letters.truncate(excess);
    letters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(folder: &'static str, id: &str, at: u64) -> DeadLetter {
        DeadLetter {
            folder,
            image_id: id.into(),
            modified_unix_us: at,
        }
    }

    #[test]
    fn the_oldest_beyond_the_limit_across_both_folders() {
        let letters = vec![
            letter("dead", "c", 30),
            letter("corrupt", "a", 10),
            letter("dead", "d", 40),
            letter("dead", "b", 10),
        ];
        let ids = |v: Vec<DeadLetter>| v.into_iter().map(|l| l.image_id).collect::<Vec<_>>();
        assert_eq!(ids(to_prune(letters.clone(), 2)), ["a", "b"]);
        assert_eq!(ids(to_prune(letters.clone(), 4)), Vec::<String>::new());
        assert_eq!(ids(to_prune(letters.clone(), 9)), Vec::<String>::new());
        assert_eq!(ids(to_prune(letters, 0)), ["a", "b", "c", "d"]);
    }
}
