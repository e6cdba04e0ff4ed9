//! Recorder write throughput: 720p-sized access units (OpenH264's parameter sets, IDR ~60 KB
//! every 30 frames, P ~12 KB: about 3.5 Mb/s at 30 fps) through the recorder's segmenter into
//! an MP4 file, with one write and one `fdatasync` per fragment (1 s of video), as the
//! recorder thread does. Reports frames/s and MB/s, and the fsync time per fragment.
//!
//!     cargo bench --bench recorder [-- --seconds 300 --dir /path/on/the/disk]
//!
//! `--dir` should be on the disk that recordings go to (the default is the temp dir).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{hex, templates, PPS_720P, SPS_720P};
use picamd::internal::clock::unix_us;
use picamd::internal::media::AccessUnit;
use picamd::internal::record::{Mp4File, Output, Segmenter, SegmenterConfig};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn main() {
    let seconds: usize = arg("--seconds", "300").parse().expect("--seconds N");
    let dir = std::path::PathBuf::from(arg(
        "--dir",
        std::env::temp_dir().to_str().unwrap_or("/tmp"),
    ));
    let frames = seconds * 30;
    let tpl = templates(300, 30, &hex(SPS_720P), &hex(PPS_720P), 60_000, 12_000, 7);
    let units: Vec<Arc<AccessUnit>> = (0..frames)
        .map(|i| {
            let t = &tpl[i % tpl.len()];
            Arc::new(AccessUnit {
                data: t.build(0),
                keyframe: t.keyframe,
                dts: i as u64 * 3000,
                pts: i as u64 * 3000,
                capture_unix_us: 0,
            })
        })
        .collect();
    let path = dir.join(format!("picamd-bench-recorder-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut seg = Segmenter::new(SegmenterConfig {
        frame_duration: 3000,
        fragment_ticks: 90_000,
        rotate_ticks: None,
        max_gap_ticks: 90_000,
    });
    let mut out = Vec::new();
    let mut file: Option<Mp4File> = None;
    let mut fragment_times: Vec<Duration> = Vec::new();
    let started = Instant::now();
    let t0 = unix_us();
    let mut apply = |out: &mut Vec<Output>, file: &mut Option<Mp4File>| {
        for o in out.drain(..) {
            match o {
                Output::Open { init, .. } => {
                    *file = Some(Mp4File::create(&path, &init).expect("create"));
                }
                Output::Fragment { bytes, .. } => {
                    let f = file.as_mut().expect("open file");
                    let t = Instant::now();
                    f.append(&bytes).expect("append");
                    fragment_times.push(t.elapsed());
                }
                Output::Close { duration } => {
                    if let Some(f) = file.take() {
                        f.finish(duration).expect("finish");
                    }
                }
            }
        }
    };
    for au in &units {
        seg.push(au, &mut out);
        apply(&mut out, &mut file);
    }
    seg.finish(&mut out);
    apply(&mut out, &mut file);
    let elapsed = started.elapsed();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    let _ = t0;
    fragment_times.sort();
    let p = |q: f64| {
        fragment_times[((fragment_times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0
    };
    println!(
        "recorder: {frames} frames ({seconds} s of 720p30 video, {:.1} MB) to {} in {:.2} s: \
         {:.0} frames/s ({:.0}x real time), {:.1} MB/s; write+fdatasync per fragment \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} fragments)",
        bytes as f64 / 1e6,
        dir.display(),
        elapsed.as_secs_f64(),
        frames as f64 / elapsed.as_secs_f64(),
        frames as f64 / 30.0 / elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99),
        p(1.0),
        fragment_times.len()
    );
}
