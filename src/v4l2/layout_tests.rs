//! Our hand-written V4L2 layouts (sys.rs) and request numbers (ioctl.rs) against what the C
//! compiler makes of the target's own `linux/videodev2.h` (layout.c). On the build machine the
//! test compiles and runs layout.c with `cc`; for the ARM targets, scripts/arm.sh compiles it
//! with the cross compiler, runs it under qemu and names its output in
//! `PICAMD_V4L2_C_LAYOUT`, which this test (cross-built, also under qemu) then reads.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use super::ioctl::*;
use super::sys::*;

fn rust_values() -> BTreeMap<String, u64> {
    let mut v = BTreeMap::new();
    let mut put = |key: &str, value: usize| {
        v.insert(key.to_string(), value as u64);
    };
    macro_rules! size {
        ($t:ident) => {
            put(concat!("size ", stringify!($t)), size_of::<$t>())
        };
    }
    macro_rules! offset {
        ($t:ident, $f:ident) => {
            put(
                concat!("offset ", stringify!($t), ".", stringify!($f)),
                offset_of!($t, $f),
            )
        };
    }
    size!(v4l2_capability);
    size!(v4l2_fmtdesc);
    size!(v4l2_frmsizeenum);
    size!(v4l2_pix_format);
    size!(v4l2_plane_pix_format);
    size!(v4l2_pix_format_mplane);
    size!(v4l2_format);
    offset!(v4l2_format, fmt);
    size!(v4l2_requestbuffers);
    size!(v4l2_timecode);
    size!(v4l2_plane);
    offset!(v4l2_plane, m);
    offset!(v4l2_plane, data_offset);
    size!(v4l2_buffer);
    offset!(v4l2_buffer, timestamp);
    offset!(v4l2_buffer, timecode);
    offset!(v4l2_buffer, sequence);
    offset!(v4l2_buffer, m);
    offset!(v4l2_buffer, length);
    offset!(v4l2_buffer, request_fd);
    size!(v4l2_streamparm);
    size!(v4l2_queryctrl);
    size!(v4l2_query_ext_ctrl);
    offset!(v4l2_query_ext_ctrl, minimum);
    offset!(v4l2_query_ext_ctrl, dims);
    size!(v4l2_ext_control);
    size!(v4l2_ext_controls);
    offset!(v4l2_ext_controls, count);
    offset!(v4l2_ext_controls, controls);
    size!(v4l2_encoder_cmd);
    for r in [
        VIDIOC_QUERYCAP,
        VIDIOC_ENUM_FMT,
        VIDIOC_S_FMT,
        VIDIOC_REQBUFS,
        VIDIOC_QUERYBUF,
        VIDIOC_QBUF,
        VIDIOC_DQBUF,
        VIDIOC_STREAMON,
        VIDIOC_STREAMOFF,
        VIDIOC_S_PARM,
        VIDIOC_QUERYCTRL,
        VIDIOC_S_EXT_CTRLS,
        VIDIOC_ENUM_FRAMESIZES,
        VIDIOC_ENCODER_CMD,
        VIDIOC_QUERY_EXT_CTRL,
    ] {
        put(&format!("request {}", r.name), r.code as usize);
    }
    v
}

/// What layout.c prints: from the file scripts/arm.sh names, else compiled and run here.
fn c_output() -> String {
    if let Ok(path) = std::env::var("PICAMD_V4L2_C_LAYOUT") {
        return std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let dir = crate::testutil::TempDir::new("v4l2-layout");
    let exe = dir.0.join("layout");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/src/v4l2/layout.c");
    let built = Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(source)
        .output()
        .expect("cc runs");
    assert!(
        built.status.success(),
        "cc {source}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&exe).output().expect("layout runs");
    String::from_utf8(out.stdout).expect("text")
}

#[test]
fn layouts_and_request_numbers_match_the_c_headers() {
    let c: BTreeMap<String, u64> = c_output()
        .lines()
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect();
    let rust = rust_values();
    assert_eq!(
        c.len(),
        rust.len(),
        "layout.c and this test list the same items"
    );
    let differ: Vec<String> = rust
        .iter()
        .filter(|(k, v)| c.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: ours {v}, C {:?}", c.get(k)))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
