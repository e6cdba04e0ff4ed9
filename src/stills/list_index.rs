//! The order of `GET /captures`, in memory, sans IO: capture ids keyed by their record's
//! [`order`](super::captures::CaptureRecord::order) (the sequence number; records from before
//! sequence numbers existed by their time, below every numbered one).

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub struct ListIndex {
    order: BTreeSet<(u128, String)>,
    keys: HashMap<String, u128>,
}

impl ListIndex {
    /// Adds `id`, or moves it if it is already there.
    pub fn insert(&mut self, id: &str, order: u128) {
        self.remove(id);
        self.order.insert((order, id.to_owned()));
        self.keys.insert(id.to_owned(), order);
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(order) = self.keys.remove(id) {
            self.order.remove(&(order, id.to_owned()));
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Every id, newest first.
    pub fn newest_first(&self) -> Vec<String> {
        self.order.iter().rev().map(|(_, id)| id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stills::captures::CaptureRecord;

    fn order(seq: Option<u64>, created_unix_us: u64) -> u128 {
        let record = serde_json::json!({
            "image_id": "a", "seq": seq, "created_unix_us": created_unix_us,
            "status": "queued", "metadata": {"camera_properties": {}, "capture_metadata": {},
            "image_properties": {"width": 1, "height": 1, "capture_time": "2026-01-01T00:00:00Z"}},
            "upload_metadata": {}, "image_url": null, "bytes": 1
        });
        serde_json::from_value::<CaptureRecord>(record)
            .unwrap()
            .order()
    }

    #[test]
    fn sequence_numbers_order_the_list_whatever_the_clock_said() {
        let mut index = ListIndex::default();
        // Taken in this order; the clock stepped back an hour before "c".
        index.insert("a", order(Some(1), 7_200_000_000));
        index.insert("b", order(Some(2), 7_300_000_000));
        index.insert("c", order(Some(3), 3_700_000_000));
        // From an older version: no sequence number, so older than all numbered ones.
        index.insert("old2", order(None, 9_000_000_000));
        index.insert("old1", order(None, 1_000_000_000));
        assert_eq!(index.newest_first(), ["c", "b", "a", "old2", "old1"]);
        index.insert("b", order(Some(4), 0));
        index.remove("a");
        index.remove("nothing");
        assert_eq!(index.newest_first(), ["b", "c", "old2", "old1"]);
        assert_eq!(index.len(), 4);
    }
}
