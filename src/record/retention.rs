//! Which finished recordings to delete (sans-IO): beyond the count, older than the age limit,
//! over the folder's quota, and, oldest first, as many as it takes to bring the filesystem's
//! free space back above its floor. The file being written is never a candidate; when
//! deleting every finished file is not enough, the caller stops recording.

/// One finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub name: String,
    pub bytes: u64,
    /// Last modification, seconds since the epoch.
    pub modified_unix_s: u64,
}

/// The limits; 0 means no limit for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub keep: u64,
    pub max_age_s: u64,
    /// Quota on every recording together, the one being written included.
    pub max_bytes: u64,
    pub min_free_bytes: u64,
}

/// What the filesystem and the open file look like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub unix_s: u64,
    /// Bytes of the file being written (0 when none).
    pub current_bytes: u64,
    /// Free bytes on the filesystem (for an unprivileged writer); `None` when unknown.
    pub free_bytes: Option<u64>,
}

/// The selection: what to delete (oldest first) and whether the limits hold afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub delete: Vec<String>,
    /// The quota or the free-space floor still fails with every finished file deleted.
    pub over: Option<Over>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The file being written alone exceeds `RECORD_MAX_MB`.
    Quota,
    /// Free space stays under `RECORD_MIN_FREE_MB`.
    FreeSpace,
}

pub fn select(mut files: Vec<Finished>, policy: Policy, now: Now) -> Selection {
    // Oldest first; the name (a UTC stamp) breaks ties.
    files.sort_by(|a, b| (a.modified_unix_s, &a.name).cmp(&(b.modified_unix_s, &b.name)));
    let mut total: u64 = files.iter().map(|f| f.bytes).sum::<u64>() + now.current_bytes;
    let mut freed: u64 = 0;
    let mut left = files.len() as u64;
    let mut delete = Vec::new();
    for f in &files {
        let too_many = policy.keep > 0 && left > policy.keep;
        let too_old =
            policy.max_age_s > 0 && now.unix_s.saturating_sub(f.modified_unix_s) > policy.max_age_s;
        let over_quota = policy.max_bytes > 0 && total > policy.max_bytes;
        let low_space = policy.min_free_bytes > 0
            && now
                .free_bytes
                .is_some_and(|free| free.saturating_add(freed) < policy.min_free_bytes);
        if !(too_many || too_old || over_quota || low_space) {
            break;
        }
        delete.push(f.name.clone());
        total -= f.bytes;
        freed += f.bytes;
        left -= 1;
    }
    let over = if policy.max_bytes > 0 && total > policy.max_bytes {
        Some(Over::Quota)
    } else if policy.min_free_bytes > 0
        && now
            .free_bytes
            .is_some_and(|free| free.saturating_add(freed) < policy.min_free_bytes)
    {
        Some(Over::FreeSpace)
    } else {
        None
    };
    Selection { delete, over }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: u64) -> Vec<Finished> {
        // Given newest first, to show the order is by time.
        (0..n)
            .rev()
            .map(|i| Finished {
                name: format!("f{i}.mp4"),
                bytes: 100,
                modified_unix_s: 1000 + i * 10,
            })
            .collect()
    }

    fn names(s: &Selection) -> Vec<&str> {
        s.delete.iter().map(String::as_str).collect()
    }

    #[test]
    fn count_age_and_quota_delete_the_oldest() {
        let now = Now {
            unix_s: 1100,
            ..Now::default()
        };
        let keep3 = Policy {
            keep: 3,
            ..Policy::default()
        };
        let s = select(files(5), keep3, now);
        assert_eq!(names(&s), ["f0.mp4", "f1.mp4"]);
        assert_eq!(s.over, None);
        let age = Policy {
            max_age_s: 75,
            ..Policy::default()
        };
        // Ages 100, 90, 80, 70, 60.
        assert_eq!(
            names(&select(files(5), age, now)),
            ["f0.mp4", "f1.mp4", "f2.mp4"]
        );
        let quota = Policy {
            max_bytes: 350,
            ..Policy::default()
        };
        let s = select(
            files(5),
            quota,
            Now {
                current_bytes: 60,
                ..now
            },
        );
        // 560 in all: two deleted leave 360, three 260.
        assert_eq!(names(&s), ["f0.mp4", "f1.mp4", "f2.mp4"]);
        assert!(select(files(5), Policy::default(), now).delete.is_empty());
    }

    #[test]
    fn the_free_space_floor_and_what_cannot_be_met() {
        let floor = Policy {
            min_free_bytes: 1000,
            ..Policy::default()
        };
        let now = |free| Now {
            unix_s: 0,
            current_bytes: 10,
            free_bytes: Some(free),
        };
        let s = select(files(5), floor, now(850));
        assert_eq!(names(&s), ["f0.mp4", "f1.mp4"]);
        assert_eq!(s.over, None);
        let s = select(files(5), floor, now(100));
        assert_eq!(s.delete.len(), 5);
        assert_eq!(s.over, Some(Over::FreeSpace));
        assert_eq!(
            select(
                files(2),
                floor,
                Now {
                    free_bytes: None,
                    ..now(0)
                }
            )
            .delete
            .len(),
            0,
            "unknown free space deletes nothing"
        );
        let tiny = Policy {
            max_bytes: 5,
            ..Policy::default()
        };
        let s = select(files(1), tiny, now(1 << 40));
        assert_eq!((s.delete.len(), s.over), (1, Some(Over::Quota)));
    }
}
