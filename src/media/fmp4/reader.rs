//! The fMP4 box reader: walks the box structure of what [`super::init_segment`] and
//! [`super::fragment`] write, for tests, integration tests and benches. Not used on the
//! streaming path.

use std::fmt;

/// Why a buffer is not a well-formed box tree: where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxError {
    TooDeep {
        offset: usize,
    },
    TruncatedHeader {
        offset: usize,
    },
    TruncatedLargesize {
        offset: usize,
    },
    TooLarge {
        offset: usize,
    },
    SmallerThanHeader {
        kind: String,
        offset: usize,
        size: usize,
    },
    Overrun {
        kind: String,
        offset: usize,
        size: usize,
        parent_end: usize,
    },
    ContainerTooSmall {
        kind: String,
        offset: usize,
    },
}

impl fmt::Display for BoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoxError::TooDeep { offset } => write!(f, "boxes nested too deep at offset {offset}"),
            BoxError::TruncatedHeader { offset } => {
                write!(f, "truncated box header at offset {offset}")
            }
            BoxError::TruncatedLargesize { offset } => {
                write!(f, "truncated largesize at offset {offset}")
            }
            BoxError::TooLarge { offset } => write!(f, "box at offset {offset} too large"),
            BoxError::SmallerThanHeader { kind, offset, size } => {
                write!(f, "box '{kind}' at offset {offset} has size {size} < header")
            }
            BoxError::Overrun {
                kind,
                offset,
                size,
                parent_end,
            } => write!(
                f,
                "box '{kind}' at offset {offset} (size {size}) overruns its parent ending at {parent_end}"
            ),
            BoxError::ContainerTooSmall { kind, offset } => {
                write!(f, "container '{kind}' at offset {offset} too small")
            }
        }
    }
}

impl std::error::Error for BoxError {}

/// One box found by [`parse_box_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxNode {
    /// Four-character box type.
    pub kind: [u8; 4],
    /// Offset of the box's first byte (its size field) in the parsed buffer.
    pub offset: usize,
    /// Total size of the box, header included.
    pub size: usize,
    /// Child boxes, for the container types the walker knows.
    pub children: Vec<BoxNode>,
}

impl BoxNode {
    /// The box type as a string (lossy).
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }

    /// Offset just past the header (8 bytes, or 16 with a largesize), given the buffer
    /// the node was parsed from.
    pub fn payload_offset(&self, data: &[u8]) -> usize {
        let large = data.get(self.offset..self.offset + 4) == Some(&[0, 0, 0, 1][..]);
        self.offset + if large { 16 } else { 8 }
    }

    /// The first descendant at `path`, e.g. `"mdia/minf/stbl"` (relative to this box).
    pub fn find(&self, path: &str) -> Option<&BoxNode> {
        find_box(&self.children, path)
    }
}

/// The first box at `path` (types separated by `/`, e.g. `"moov/trak/tkhd"`) in `nodes`.
pub fn find_box<'a>(nodes: &'a [BoxNode], path: &str) -> Option<&'a BoxNode> {
    let (first, rest) = match path.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    let node = nodes.iter().find(|n| n.kind[..] == *first.as_bytes())?;
    match rest {
        Some(rest) => find_box(&node.children, rest),
        None => Some(node),
    }
}

/// For container boxes: bytes between the header and the first child.
pub(super) fn container_skip(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"dinf" | b"stbl" | b"mvex" | b"moof" | b"traf"
        | b"edts" => Some(0),
        b"dref" | b"stsd" => Some(8),  // version/flags + entry_count
        b"avc1" | b"avc3" => Some(78), // VisualSampleEntry fields
        _ => None,
    }
}

/// Parses the box structure of `data` (a whole init segment, fragment or file),
/// descending into the containers picamd writes. Every box must fit exactly in its
/// parent; anything else is an error describing where it went wrong.
pub fn parse_box_tree(data: &[u8]) -> Result<Vec<BoxNode>, BoxError> {
    parse_boxes(data, 0, data.len(), 0)
}

fn parse_boxes(
    data: &[u8],
    start: usize,
    end: usize,
    depth: usize,
) -> Result<Vec<BoxNode>, BoxError> {
    if depth > 16 {
        return Err(BoxError::TooDeep { offset: start });
    }
    let mut nodes = Vec::new();
    let mut pos = start;
    while pos < end {
        let header = data
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= end)
            .ok_or(BoxError::TruncatedHeader { offset: pos })?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (size, header_len) = match size32 {
            0 => (end - pos, 8),
            1 => {
                let large = data
                    .get(pos + 8..pos + 16)
                    .filter(|_| pos + 16 <= end)
                    .ok_or(BoxError::TruncatedLargesize { offset: pos })?;
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                let size = usize::try_from(u64::from_be_bytes(b))
                    .map_err(|_| BoxError::TooLarge { offset: pos })?;
                (size, 16)
            }
            n => (n as usize, 8),
        };
        let name = String::from_utf8_lossy(&kind).into_owned();
        if size < header_len {
            return Err(BoxError::SmallerThanHeader {
                kind: name,
                offset: pos,
                size,
            });
        }
        let box_end =
            pos.checked_add(size)
                .filter(|&e| e <= end)
                .ok_or_else(|| BoxError::Overrun {
                    kind: name.clone(),
                    offset: pos,
                    size,
                    parent_end: end,
                })?;
        let children = match container_skip(&kind) {
            Some(skip) => {
                let child_start = pos + header_len + skip;
                if child_start > box_end {
                    return Err(BoxError::ContainerTooSmall {
                        kind: name,
                        offset: pos,
                    });
                }
                parse_boxes(data, child_start, box_end, depth + 1)?
            }
            None => Vec::new(),
        };
        nodes.push(BoxNode {
            kind,
            offset: pos,
            size,
            children,
        });
        pos = box_end;
    }
    Ok(nodes)
}
