//! Muxer throughput, no encode: 1080p-sized Annex B access units through the LL-HLS
//! segmenter (fMP4 parts), on one thread.
//!
//!     cargo bench --bench muxer [-- --frames 30000 --runs 5]
//!
//! Access units are generated before timing (an IDR with SPS/PPS every 30 frames, ~150 KB,
//! P frames ~40 KB, each with the capture-time SEI). They are re-stamped with rising DTS in
//! batches of 300 outside the timed region; only `Segmenter::push` (and dropping what it
//! emits) is timed. A second table row also runs `preview::publish` into a live `HlsStore`
//! (timeline update + playlist rendering), i.e. the whole muxer thread minus the channel.
//!
//! Target (design.md): ≥ 20,000 frames/s on one core.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bench_keys, hex, Summary};
use picamd::internal::config::Config;
use picamd::internal::media::llhls::{Segmenter, SegmenterConfig, SegmenterEvent};
use picamd::internal::media::AccessUnit;
use picamd::internal::preview::MuxerSink;
use picamd::internal::runtime::Runtime;

const TARGET_FPS: f64 = 20_000.0;
const TEMPLATES: usize = 300;
const BATCH: usize = 300;

const CFG: SegmenterConfig = SegmenterConfig {
    frame_duration: 3000,
    part_frames: 6,
    segment_frames: 30,
};

struct RunResult {
    frames: u64,
    bytes_in: u64,
    bytes_out: u64,
    parts: u64,
    elapsed: Duration,
    /// Per-push time of the pushes that completed a part (the publication-latency share).
    part_pushes: Vec<Duration>,
}

impl RunResult {
    fn fps(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64()
    }
}

fn run(
    templates: &[Vec<u8>],
    keyframes: &[bool],
    frames: usize,
    publish_to: Option<&MuxerSink>,
) -> RunResult {
    let mut seg = Segmenter::new(CFG);
    let mut events: Vec<SegmenterEvent> = Vec::with_capacity(8);
    let mut batch: Vec<Arc<AccessUnit>> = Vec::with_capacity(BATCH);
    let mut res = RunResult {
        frames: 0,
        bytes_in: 0,
        bytes_out: 0,
        parts: 0,
        elapsed: Duration::ZERO,
        part_pushes: Vec::with_capacity(frames / CFG.part_frames as usize + 1),
    };
    let mut n = 0usize;
    let base_us = 1_763_725_552_000_000u64;
    while n < frames {
        // Untimed: fresh access units with rising timestamps (the segmenter owns them).
        batch.clear();
        for i in n..(n + BATCH).min(frames) {
            let t = i % templates.len();
            let dts = i as u64 * u64::from(CFG.frame_duration);
            batch.push(Arc::new(AccessUnit {
                data: templates[t].clone(),
                keyframe: keyframes[t],
                dts,
                pts: dts,
                capture_unix_us: base_us + i as u64 * 33_333,
            }));
            res.bytes_in += templates[t].len() as u64;
        }
        n += batch.len();
        // Timed: push each access unit and consume what it produced.
        for au in batch.drain(..) {
            let t0 = Instant::now();
            seg.push(au, &mut events);
            let mut part = false;
            for e in &events {
                if let SegmenterEvent::Part { data, .. } = e {
                    res.bytes_out += data.len() as u64;
                    res.parts += 1;
                    part = true;
                }
            }
            match publish_to {
                Some(sink) => picamd::internal::preview::publish(sink, &seg, &mut events),
                None => events.clear(),
            }
            let dt = t0.elapsed();
            res.elapsed += dt;
            if part {
                res.part_pushes.push(dt);
            }
        }
        res.frames = n as u64;
    }
    res
}

fn main() {
    let frames: usize = common::arg("--frames", 30_000);
    let runs: usize = common::arg("--runs", 5).max(1);
    let (load_before, cpus) = common::machine_load();

    let sps = hex(common::SPS_1080P_HIGH);
    let pps = hex(common::PPS_1080P_HIGH);
    let info = picamd::internal::media::h264::parse_sps(&sps).expect("the 1080p SPS parses");
    assert_eq!((info.width, info.height), (1920, 1080));
    let tpl = common::templates(
        TEMPLATES,
        CFG.segment_frames as usize,
        &sps,
        &pps,
        150_000,
        40_000,
        0x5eed,
    );
    let keyframes: Vec<bool> = tpl.iter().map(|t| t.keyframe).collect();
    let base_us = 1_763_725_552_000_000u64;
    let templates: Vec<Vec<u8>> = tpl
        .iter()
        .enumerate()
        .map(|(i, t)| t.build(base_us + i as u64 * 33_333))
        .collect();
    let avg_au = templates.iter().map(Vec::len).sum::<usize>() as f64 / templates.len() as f64;
    let idrs: Vec<usize> = templates
        .iter()
        .zip(&keyframes)
        .filter(|(_, &k)| k)
        .map(|(t, _)| t.len())
        .collect();
    let idr = idrs.iter().sum::<usize>() / idrs.len();
    assert_eq!(
        picamd::internal::media::h264::find_timestamp_sei(&templates[1]),
        Some(base_us + 33_333)
    );

    // Sanity: the parts are real fMP4 fragments of the right frame count.
    {
        let mut seg = Segmenter::new(CFG);
        let mut ev = Vec::new();
        for (i, t) in templates.iter().take(12).enumerate() {
            let dts = i as u64 * 3000;
            let au = AccessUnit {
                data: t.clone(),
                keyframe: keyframes[i],
                dts,
                pts: dts,
                capture_unix_us: 0,
            };
            seg.push(Arc::new(au), &mut ev);
        }
        let parts: Vec<&std::sync::Arc<[u8]>> = ev
            .iter()
            .filter_map(|e| match e {
                SegmenterEvent::Part { data, .. } => Some(data),
                _ => None,
            })
            .collect();
        assert_eq!(parts.len(), 2, "12 frames make two 6-frame parts");
        let tree = picamd::internal::media::fmp4::parse_box_tree(parts[0]).expect("valid fMP4");
        assert!(picamd::internal::media::fmp4::find_box(&tree, "moof").is_some());
        assert!(picamd::internal::media::fmp4::find_box(&tree, "mdat").is_some());
    }

    println!("muxer throughput: {frames} frames of 1920x1080 (IDR every 30, mean {} KB; P ≈ 40 KB; mean AU {:.1} KB), 6-frame parts", idr / 1000, avg_au / 1000.0);
    println!("machine: {cpus} CPUs, load average {load_before:.2} before the run");

    // Warm-up (page faults, allocator), not reported.
    let _ = run(&templates, &keyframes, frames.min(3000), None);

    let config = Config::from_sources(
        &["--listen".into(), "127.0.0.1:0".into()],
        &HashMap::new(),
        &HashMap::new(),
    )
    .expect("config");
    let mut seg_runs = Vec::new();
    let mut pub_runs = Vec::new();
    for _ in 0..runs {
        seg_runs.push(run(&templates, &keyframes, frames, None));
        let rt = Runtime::new(config.clone(), bench_keys(&config)).expect("runtime");
        let sink = rt.media.muxer_sink(rt.config.hls_segments);
        pub_runs.push(run(&templates, &keyframes, frames, Some(&sink)));
    }
    let (load_after, _) = common::machine_load();

    let table = |name: &str, rs: &[RunResult]| -> (f64, f64, f64, Summary) {
        let mut fps: Vec<f64> = rs.iter().map(RunResult::fps).collect();
        fps.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = fps[fps.len() / 2];
        let best = fps[fps.len() - 1];
        let mbps = median * (rs[0].bytes_in as f64 / rs[0].frames as f64) / 1e6;
        let all: Vec<Duration> = rs
            .iter()
            .flat_map(|r| r.part_pushes.iter().copied())
            .collect();
        let s = Summary::of_durations(&all);
        println!(
            "{name:<34} {median:>12.0} {best:>12.0} {mbps:>10.0} {:>10.1} {:>10.3} {:>10.3}",
            rs[0].bytes_out as f64 / rs[0].bytes_in as f64 * 100.0,
            s.p50,
            s.p99
        );
        (median, best, mbps, s)
    };
    println!();
    println!(
        "{:<34} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "", "frames/s", "frames/s", "MB/s in", "out/in", "part push", "part push"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        format!("({runs} runs × {frames} frames)"),
        "median",
        "best",
        "median",
        "%",
        "p50 ms",
        "p99 ms"
    );
    let (seg_fps, seg_best, seg_mbps, seg_push) = table("Segmenter::push", &seg_runs);
    let (pub_fps, pub_best, pub_mbps, pub_push) =
        table("Segmenter::push + preview::publish", &pub_runs);
    println!();
    let pass = seg_fps >= TARGET_FPS;
    println!(
        "target ≥ {TARGET_FPS:.0} frames/s: {} ({seg_fps:.0} frames/s = {:.1}× real time at 30 fps); load average after {load_after:.2}",
        if pass { "PASS" } else { "FAIL" },
        seg_fps / 30.0
    );
    let json = serde_json::json!({
        "bench": "muxer",
        "frames": frames,
        "runs": runs,
        "mean_au_bytes": avg_au.round(),
        "segmenter_fps_median": seg_fps.round(),
        "segmenter_fps_best": seg_best.round(),
        "segmenter_mb_per_s": seg_mbps.round(),
        "segmenter_part_push": seg_push.json(),
        "with_publish_fps_median": pub_fps.round(),
        "with_publish_fps_best": pub_best.round(),
        "with_publish_mb_per_s": pub_mbps.round(),
        "with_publish_part_push": pub_push.json(),
        "target_fps": TARGET_FPS,
        "pass": pass,
        "cpus": cpus,
        "load_before": load_before,
        "load_after": load_after,
    });
    println!("{json}");
}
