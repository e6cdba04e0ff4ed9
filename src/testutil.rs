//! Helpers shared by unit tests across the crate.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::media::Frame;
use crate::pairing::credentials::RelayCredentials;
use crate::stills::mjpeg::EncodeFn;

/// A fresh, empty directory under the system temp dir; removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "picamd-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Relay credentials of the right shape for `camera` (the key is not a real one).
pub(crate) fn relay_credentials(camera: &str) -> RelayCredentials {
    RelayCredentials {
        backend_url: "wss://relab.example/plugins/rpi-cam/ws/connect".into(),
        camera_id: camera.into(),
        auth_scheme: "device_assertion".into(),
        key_id: "kid".into(),
        private_key_pem: "PEM".into(),
    }
}

/// A 2x2 frame numbered `sequence`.
pub(crate) fn tiny_frame(sequence: u64) -> Frame {
    Frame {
        width: 2,
        height: 2,
        data: Arc::from(vec![0u8; Frame::i420_len(2, 2)]),
        pts: 0,
        capture_unix_us: 0,
        sequence,
    }
}

/// "JPEG" bytes that say which frame they came from.
pub(crate) fn sequence_encoder() -> EncodeFn {
    Arc::new(|f: &Frame| Ok(f.sequence.to_string().into_bytes()))
}
