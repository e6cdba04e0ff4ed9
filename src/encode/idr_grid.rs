//! When to force a key frame, so that every LL-HLS segment can start on an IDR. Sans-IO: the
//! encoder thread asks [`IdrGrid::due`] before each frame and reports what came out.
//!
//! The segmenter (`media::llhls::segmenter`) cuts a segment only at an IDR, once the open
//! segment is at least half its target long. A missing IDR therefore stretches a segment past
//! its target duration, while an extra IDR costs only bits. So a request counts as met only
//! when an IDR comes out for it: a request the encoder ignored, or a frame it lost, moves the
//! request to the next frame (OpenH264's rule, which it needs to be robust). One request is
//! outstanding at a time, because a pipelined M2M encoder answers a frame or two later and
//! must not be asked again for every frame in between (the M2M rule, once per grid point).
//! Key frames nobody asked for (a hardware encoder's own IDR period) leave the grid alone.

/// The key-frame grid: the first frame, then each frame at or past the next grid point
/// (restarted from the present after a stall).
#[derive(Debug)]
pub struct IdrGrid {
    interval: u64,
    next: Option<u64>,
    requested: Option<u64>,
}

impl IdrGrid {
    /// A grid with one point every `interval` 90 kHz ticks.
    pub fn new(interval: u64) -> IdrGrid {
        IdrGrid {
            interval: interval.max(1),
            next: None,
            requested: None,
        }
    }

    /// Whether the frame at `pts` must be encoded as an IDR.
    pub fn due(&mut self, pts: u64) -> bool {
        if self.requested.is_some() || self.next.is_some_and(|next| pts < next) {
            return false;
        }
        self.requested = Some(pts);
        true
    }

    /// An access unit of the frame at `pts` came out of the encoder.
    pub fn came_out(&mut self, pts: u64, keyframe: bool) {
        let Some(requested) = self.requested else {
            return;
        };
        if pts < requested {
            // A frame from before the request, still draining out of a pipelined encoder.
            return;
        }
        self.requested = None;
        if keyframe {
            // Stay on the grid; after a long stall, restart it from this frame.
            let mut following = self.next.unwrap_or(pts) + self.interval;
            if following <= pts {
                following = pts + self.interval;
            }
            self.next = Some(following);
        }
    }

    /// The frame at `pts` failed to encode: if it carried the request, the next frame does.
    pub fn lost(&mut self, pts: u64) {
        if self.requested == Some(pts) {
            self.requested = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoder that honours every request at once.
    fn due_and_honoured(g: &mut IdrGrid, pts: u64) -> bool {
        let due = g.due(pts);
        g.came_out(pts, due);
        due
    }

    #[test]
    fn idrs_fall_on_the_grid_and_restart_after_a_stall() {
        let mut g = IdrGrid::new(6000);
        let due: Vec<u64> = (0..10)
            .map(|n| n * 3000)
            .filter(|&pts| due_and_honoured(&mut g, pts))
            .collect();
        assert_eq!(due, vec![0, 6000, 12000, 18000, 24000]);
        // A stall: the next key frame comes at once, and the grid restarts from it.
        assert!(due_and_honoured(&mut g, 100_000));
        assert!(!due_and_honoured(&mut g, 103_000));
        assert!(due_and_honoured(&mut g, 106_000));
    }

    #[test]
    fn an_ignored_request_moves_to_the_next_frame() {
        let mut g = IdrGrid::new(6000);
        assert!(due_and_honoured(&mut g, 0));
        assert!(g.due(6000));
        g.came_out(6000, false);
        assert!(g.due(9000));
        g.came_out(9000, true);
        // Back on the grid: the next point is 12000, not 15000.
        assert!(!g.due(11_999));
        assert!(g.due(12000));
    }

    #[test]
    fn a_lost_frame_passes_the_request_on() {
        let mut g = IdrGrid::new(6000);
        assert!(due_and_honoured(&mut g, 0));
        assert!(g.due(6000));
        g.lost(6000);
        assert!(g.due(9000));
        g.came_out(9000, true);
        assert!(!g.due(11_999));
        assert!(g.due(12000));
    }

    #[test]
    fn a_pipelined_encoder_is_asked_once_per_grid_point() {
        let mut g = IdrGrid::new(6000);
        assert!(g.due(0));
        // Two more frames go in before the first comes out.
        assert!(!g.due(3000));
        g.came_out(0, true);
        assert!(!g.due(6000 - 1));
        g.came_out(3000, false);
        assert!(g.due(6000));
        assert!(!g.due(9000));
        g.came_out(6000, true);
        g.came_out(9000, false);
        assert!(!g.due(9000));
        assert!(g.due(12000));
    }

    #[test]
    fn unrequested_key_frames_leave_the_grid_alone() {
        let mut g = IdrGrid::new(6000);
        assert!(g.due(0));
        g.came_out(0, true);
        assert!(!g.due(3000));
        g.came_out(3000, true);
        assert!(g.due(6000));
    }
}
