//! `APP_ENV` (plugin 0.6): `production` (the default) or `development`, which alone allows
//! plaintext `ws://` relay URLs and plain-http endpoints that are not on loopback.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    Development,
    #[default]
    Production,
}

impl AppEnv {
    /// The plugin's two values, as written (pydantic's `Literal` is case-sensitive).
    pub fn parse(s: &str) -> Option<AppEnv> {
        match s {
            "development" => Some(AppEnv::Development),
            "production" => Some(AppEnv::Production),
            _ => None,
        }
    }

    pub fn is_development(self) -> bool {
        self == AppEnv::Development
    }
}
