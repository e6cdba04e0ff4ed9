//! After a crash or power cut: the newest recording (the one that was being written) may end
//! in a fragment that was only partly written, or hold no fragment at all. At start-up it is
//! cut back to its last whole box, or deleted when no `moof` is left. A `kill -9` loses
//! nothing that was written; a power cut loses at most the fragment after the last fsync.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What to do with a file, from its top-level box headers (sans-IO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    Keep,
    /// Cut to this length (a box past it is incomplete).
    Truncate(u64),
    /// No fragment: nothing to play.
    Delete,
}

/// Walks the top-level boxes with `header(offset)` giving the 16 bytes at `offset` (fewer at
/// the end of the file).
pub fn plan(len: u64, mut header: impl FnMut(u64) -> Vec<u8>) -> Repair {
    let mut at = 0u64;
    let mut fragments = 0u64;
    // Where the last `moof` starts while its `mdat` is not yet seen whole.
    let mut open_moof: Option<u64> = None;
    while at < len {
        let h = header(at);
        let Some(size32) = h
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        else {
            break;
        };
        let size = match size32 {
            1 => match h.get(8..16) {
                Some(b) => u64::from_be_bytes(b.try_into().unwrap_or([0; 8])),
                None => break,
            },
            n => u64::from(n),
        };
        if size < 8 || at.saturating_add(size) > len {
            break;
        }
        match h.get(4..8) {
            Some(b"moof") => open_moof = Some(at),
            Some(b"ftyp" | b"moov") if open_moof.is_none() => {}
            _ if open_moof.take().is_some() => fragments += 1,
            // Not a file we write (a plain MP4 someone put here): leave it alone.
            _ => return Repair::Keep,
        }
        at += size;
    }
    // A `moof` is kept only with the box after it (its `mdat`, written in the same write).
    let at = open_moof.unwrap_or(at);
    if fragments == 0 {
        Repair::Delete
    } else if at < len {
        Repair::Truncate(at)
    } else {
        Repair::Keep
    }
}

/// Repairs the most recently modified recording in `dir`.
pub fn repair_newest(dir: &Path) -> io::Result<()> {
    let files = super::library::list(dir)?;
    let Some(newest) = files.first() else {
        return Ok(());
    };
    let path = dir.join(&newest.name);
    let file = File::open(&path)?;
    let len = file.metadata()?.len();
    let repair = plan(len, |at| {
        let mut buf = vec![0u8; 16];
        let n = file.read_at(&mut buf, at).unwrap_or(0);
        buf.truncate(n);
        buf
    });
    match repair {
        Repair::Keep => {}
        Repair::Truncate(to) => {
            log::warn!(
                "recording {} ended in a partial fragment (crash): cut from {len} to {to} bytes",
                newest.name
            );
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(to)?;
            f.sync_all()?;
        }
        Repair::Delete => {
            log::warn!(
                "recording {} holds no video (crash right after it started): deleted",
                newest.name
            );
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(list: &[(&[u8; 4], u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, size) in list {
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(*kind);
            out.resize(out.len() + *size as usize - 8, 0);
        }
        out
    }

    fn run(data: &[u8]) -> Repair {
        plan(data.len() as u64, |at| {
            let at = at as usize;
            data[at..(at + 16).min(data.len())].to_vec()
        })
    }

    #[test]
    fn cuts_a_partial_fragment_and_deletes_a_file_without_one() {
        let init = [(b"ftyp", 32), (b"moov", 700)];
        let whole = boxes(&[init[0], init[1], (b"moof", 120), (b"mdat", 5000)]);
        assert_eq!(run(&whole), Repair::Keep);
        let mut cut = whole.clone();
        cut.extend_from_slice(&boxes(&[(b"moof", 120), (b"mdat", 5000)])[..3000]);
        assert_eq!(run(&cut), Repair::Truncate(whole.len() as u64));
        assert_eq!(run(&boxes(&init)), Repair::Delete);
        assert_eq!(run(&boxes(&init)[..100]), Repair::Delete);
        assert_eq!(run(&[]), Repair::Delete);
        let mut zero = whole.clone();
        zero.extend_from_slice(&[0; 40]);
        assert_eq!(run(&zero), Repair::Truncate(whole.len() as u64));
        let mut lone_moof = whole.clone();
        lone_moof.extend_from_slice(&boxes(&[(b"moof", 120)]));
        assert_eq!(run(&lone_moof), Repair::Truncate(whole.len() as u64));
        let plain = boxes(&[(b"ftyp", 32), (b"mdat", 900), (b"moov", 700)]);
        assert_eq!(run(&plain), Repair::Keep, "not ours");
    }
}
