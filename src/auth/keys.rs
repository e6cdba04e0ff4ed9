//! The set of API keys that `X-API-Key` is checked against (§1.1 "authorized-key set").

use std::fmt;
use std::hint::black_box;

/// Authorized API keys. Empty keys are never stored, so they can never match.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<String>,
}

impl KeySet {
    pub fn new(keys: Vec<String>) -> KeySet {
        let mut set = KeySet::default();
        for key in keys {
            set.add(key);
        }
        set
    }

    /// Adds a key; false if it is empty or already present.
    pub fn add(&mut self, key: String) -> bool {
        if key.is_empty() || self.keys.contains(&key) {
            return false;
        }
        self.keys.push(key);
        true
    }

    /// Removes a key; false if it was not present.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k != key);
        self.keys.len() != before
    }

    /// Whether `candidate` is one of the keys, compared byte for byte in constant time.
    ///
    /// Every key is compared, even after a match, so the time taken depends only on the
    /// candidate's length and the number of keys, never on which key matched or how much of
    /// it did.
    pub fn contains(&self, candidate: &str) -> bool {
        if candidate.is_empty() {
            return false;
        }
        let mut found = false;
        for key in &self.keys {
            found |= constant_time_eq(candidate.as_bytes(), key.as_bytes());
        }
        found
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Keys are secrets: debug output shows only how many there are.
impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySet({} keys)", self.keys.len())
    }
}

/// Compares in time proportional to `candidate.len()` alone: the loop walks the candidate (which
/// the caller already knows) and reads the key cyclically, so the key's length is not revealed
/// by how long the comparison takes. A length mismatch is folded into the same accumulator.
pub(crate) fn constant_time_eq(candidate: &[u8], key: &[u8]) -> bool {
    if key.is_empty() {
        return false;
    }
    let mut diff = candidate.len() ^ key.len();
    for (i, &byte) in candidate.iter().enumerate() {
        diff |= usize::from(byte ^ key[i % key.len()]);
    }
    // Keeps the optimiser from turning the loop into an early-exit comparison.
    black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&str]) -> KeySet {
        KeySet::new(keys.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn matches_exact_keys_only() {
        let keys = set(&["alpha-key", "local_beta"]);
        assert!(keys.contains("alpha-key"));
        assert!(keys.contains("local_beta"));
        for wrong in [
            "alpha-ke",
            "alpha-key ",
            "alpha-keyalpha-key",
            "ALPHA-KEY",
            "local_betb",
            "x",
            "",
        ] {
            assert!(!keys.contains(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn repeated_key_prefix_does_not_match() {
        // The key is read cyclically; a candidate that repeats it must still fail on length.
        let keys = set(&["ab"]);
        assert!(!keys.contains("abab"));
        assert!(!keys.contains("a"));
        assert!(keys.contains("ab"));
    }

    #[test]
    fn empty_keys_never_match() {
        let mut keys = set(&["", "k"]);
        assert_eq!(keys.len(), 1);
        assert!(!keys.add(String::new()));
        assert!(!keys.contains(""));
        assert!(!constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"x", b""));
        assert!(!KeySet::default().contains("anything"));
    }

    #[test]
    fn add_and_remove() {
        let mut keys = set(&["one"]);
        assert!(keys.add("two".into()));
        assert!(!keys.add("two".into()), "duplicates are not stored twice");
        assert!(keys.contains("two"));
        assert!(keys.remove("one"));
        assert!(!keys.remove("one"));
        assert!(!keys.contains("one"));
        assert_eq!(keys.len(), 1);
        assert!(keys.remove("two"));
        assert!(keys.is_empty());
    }

    #[test]
    fn non_ascii_keys_compare_by_bytes() {
        let keys = set(&["clé-ü"]);
        assert!(keys.contains("clé-ü"));
        assert!(!keys.contains("cle-u"));
    }

    #[test]
    fn debug_hides_keys() {
        let shown = format!("{:?}", set(&["secret-value"]));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains('1'));
    }
}
