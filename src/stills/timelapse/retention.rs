//! The timelapse's retention policy: which pictures to delete. No clock and no files here;
//! the worker passes the time and the directory listing.

use super::names::parse_name;

/// Which of `names` (a directory listing) to delete: pictures older than `max_age_s`, then
/// the oldest beyond the newest `keep`. Files the timelapse did not name are never listed.
/// The order is oldest first.
pub fn plan_retention(names: &[String], now_unix_s: u64, keep: u32, max_age_s: u64) -> Vec<String> {
    let mut pictures: Vec<((u64, u64), &String)> = names
        .iter()
        .filter_map(|n| parse_name(n).map(|t| (t, n)))
        .collect();
    pictures.sort();
    let too_old =
        |&((taken, _), _): &((u64, u64), &String)| now_unix_s.saturating_sub(taken) > max_age_s;
    let old = pictures.iter().take_while(|p| too_old(p)).count();
    let over = (pictures.len() - old).saturating_sub(keep as usize);
    pictures
        .iter()
        .take(old + over)
        .map(|(_, n)| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stills::timelapse::names::file_name;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn retention_keeps_the_newest_by_count() {
        let t = 1_763_725_552;
        let names: Vec<String> = (0..5).rev().map(|i| file_name(t - i * 60)).collect();
        let doomed = plan_retention(&names, t, 3, 86_400);
        assert_eq!(doomed, vec![file_name(t - 240), file_name(t - 180)]);
        assert!(plan_retention(&names, t, 5, 86_400).is_empty());
        assert_eq!(plan_retention(&names, t, 0, 86_400).len(), 5);
    }

    #[test]
    fn retention_drops_pictures_older_than_the_maximum_age() {
        let t = 1_763_725_552;
        let names = vec![
            file_name(t - 3601),
            file_name(t - 3600),
            file_name(t),
            file_name(t + 7200),
        ];
        assert_eq!(
            plan_retention(&names, t, 100, 3600),
            vec![file_name(t - 3601)]
        );
        // A picture from "the future" (the clock went back) is not old.
        assert_eq!(plan_retention(&names, t, 100, 60).len(), 2);
    }

    #[test]
    fn retention_by_age_and_count_together() {
        let t = 1_763_725_552;
        let names = vec![
            file_name(t),
            file_name(t - 10),
            file_name(t - 20),
            file_name(t - 5000),
        ];
        let doomed = plan_retention(&names, t, 2, 3600);
        assert_eq!(doomed, vec![file_name(t - 5000), file_name(t - 20)]);
    }

    #[test]
    fn retention_never_touches_current_or_foreign_files() {
        let t = 1_763_725_552;
        let names = strings(&[
            "current.jpg",
            "notes.txt",
            "19700101-000000.jpeg",
            ".19700101-000000.jpg.tmp",
            "holiday.jpg",
            "19700101-000000.jpg",
        ]);
        assert_eq!(
            plan_retention(&names, t, 1, 60),
            strings(&["19700101-000000.jpg"])
        );
        assert!(plan_retention(&strings(&["current.jpg", "x"]), t, 1, 60).is_empty());
    }

    #[test]
    fn retention_orders_clashing_names_numerically() {
        let names = strings(&[
            "20251121-114552-10.jpg",
            "20251121-114552-2.jpg",
            "20251121-114552.jpg",
            "20251121-114553.jpg",
            "20251121-114552-1.jpg",
        ]);
        let doomed = plan_retention(&names, 1_763_725_553, 2, 3600);
        assert_eq!(
            doomed,
            strings(&[
                "20251121-114552.jpg",
                "20251121-114552-1.jpg",
                "20251121-114552-2.jpg"
            ])
        );
    }
}
