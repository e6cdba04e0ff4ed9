//! The order of `GET /captures`, in memory, sans IO: capture ids keyed by the sequence
//! number in their record. Records from before sequence numbers existed sort by their time,
//! below every numbered one (they are older than any of them).

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// false for records without a sequence number: they come first (oldest).
    numbered: bool,
    /// The sequence number, or the creation time (µs) when there is none.
    rank: u64,
    id: String,
}

#[derive(Debug, Default)]
pub struct ListIndex {
    order: BTreeSet<Key>,
    keys: HashMap<String, Key>,
}

impl ListIndex {
    /// Adds `id`, or moves it if it is already there.
    pub fn insert(&mut self, id: &str, seq: Option<u64>, created_unix_us: u64) {
        self.remove(id);
        let key = Key {
            numbered: seq.is_some(),
            rank: seq.unwrap_or(created_unix_us),
            id: id.to_owned(),
        };
        self.order.insert(key.clone());
        self.keys.insert(id.to_owned(), key);
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(key) = self.keys.remove(id) {
            self.order.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Every id, newest first.
    pub fn newest_first(&self) -> Vec<String> {
        self.order.iter().rev().map(|k| k.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_the_list_whatever_the_clock_said() {
        let mut index = ListIndex::default();
        // Taken in this order; the clock stepped back an hour before "c".
        index.insert("a", Some(1), 7_200_000_000);
        index.insert("b", Some(2), 7_300_000_000);
        index.insert("c", Some(3), 3_700_000_000);
        // From an older version: no sequence number, so older than all numbered ones.
        index.insert("old2", None, 9_000_000_000);
        index.insert("old1", None, 1_000_000_000);
        assert_eq!(index.newest_first(), ["c", "b", "a", "old2", "old1"]);
        index.insert("b", Some(4), 0);
        index.remove("a");
        index.remove("nothing");
        assert_eq!(index.newest_first(), ["b", "c", "old2", "old1"]);
        assert_eq!(index.len(), 4);
    }
}
