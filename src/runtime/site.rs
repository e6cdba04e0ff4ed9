//! What only the web side uses: the static files of the UI, the CORS policy and the system
//! probe behind `/system/telemetry` and `/metrics`.

use std::path::PathBuf;

use crate::config::Config;
use crate::http::cors::CorsPolicy;
use crate::http::static_files::StaticFiles;
use crate::system::SystemProbe;

pub struct Site {
    pub static_files: StaticFiles,
    pub cors: CorsPolicy,
    pub system: SystemProbe,
}

impl Site {
    pub fn new(config: &Config, image_path: PathBuf) -> Site {
        let relab = &config.relab;
        Site {
            static_files: StaticFiles::new(config.www_dir.clone()),
            cors: CorsPolicy::new(
                relab.auth.local_mode_enabled,
                relab
                    .http
                    .allowed_cors_origins
                    .iter()
                    .chain(&relab.http.local_allowed_origins)
                    .cloned()
                    .collect(),
                &relab.auth.key_name,
            ),
            system: SystemProbe::with_temp_path(image_path, &config.temp_file),
        }
    }
}
