//! Per-route action limits (plugin 0.4+): how many requests one client may send to each group
//! of action routes within a window. `0` turns a group's limit off.

use std::time::Duration;

/// The route groups that take an action on the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionGroup {
    /// `POST /captures`.
    Captures,
    /// `PATCH /camera/controls`.
    Controls,
    /// `PUT /camera/focus`.
    Focus,
    /// `POST /preview/start`, `POST /preview/stop`.
    Preview,
    /// `POST /pairing/code`, `DELETE /pairing`.
    Pairing,
    /// `POST /streams/youtube` (plugin 0.4+).
    Streams,
}

impl ActionGroup {
    pub const ALL: [ActionGroup; GROUPS] = [
        ActionGroup::Captures,
        ActionGroup::Controls,
        ActionGroup::Focus,
        ActionGroup::Preview,
        ActionGroup::Pairing,
        ActionGroup::Streams,
    ];

    /// The variable that sets the group's limit.
    pub fn variable(self) -> &'static str {
        match self {
            ActionGroup::Captures => "RATE_LIMIT_CAPTURES",
            ActionGroup::Controls => "RATE_LIMIT_CONTROLS",
            ActionGroup::Focus => "RATE_LIMIT_FOCUS",
            ActionGroup::Preview => "RATE_LIMIT_PREVIEW",
            ActionGroup::Pairing => "RATE_LIMIT_PAIRING",
            ActionGroup::Streams => "RATE_LIMIT_STREAMS",
        }
    }
}

/// How many groups there are.
pub const GROUPS: usize = 6;

/// The plugin's limit: 20 requests per group per client.
pub const DEFAULT_MAX: u32 = 20;
/// A browser session's default on the slider routes: one change a second on average.
pub const DEFAULT_SESSION_CONTROLS: u32 = 300;
/// The variable that sets [`ActionLimitSettings::session_controls`].
pub const SESSION_CONTROLS_VARIABLE: &str = "RATE_LIMIT_CONTROLS_SESSION";

/// The plugin's window: 300 s.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLimitSettings {
    /// `RATE_LIMIT_WINDOW_S`.
    pub window: Duration,
    /// Each group's `RATE_LIMIT_<GROUP>`, in [`ActionGroup::ALL`] order.
    pub max: [u32; GROUPS],
    /// `RATE_LIMIT_CONTROLS_SESSION`: the limit of a browser session (the web console, signed
    /// in with a cookie and no key) on `PATCH /camera/controls` and `PUT /camera/focus`, each
    /// counted apart. A slider sends about one change a second while it moves; 20 in 5
    /// minutes would stop it within half a minute. Key holders keep the plugin's limits.
    pub session_controls: u32,
}

impl ActionLimitSettings {
    /// The most requests a client may send to `group` within the window; `0` is no limit.
    pub fn max(&self, group: ActionGroup) -> u32 {
        let i = ActionGroup::ALL
            .iter()
            .position(|g| *g == group)
            .unwrap_or_default();
        self.max[i]
    }

    /// The limit of a browser session on `group`: the console's sliders get
    /// [`ActionLimitSettings::session_controls`], everything else the group's limit.
    pub fn session_max(&self, group: ActionGroup) -> u32 {
        match group {
            ActionGroup::Controls | ActionGroup::Focus => self.session_controls,
            _ => self.max(group),
        }
    }
}

impl Default for ActionLimitSettings {
    fn default() -> Self {
        ActionLimitSettings {
            window: DEFAULT_WINDOW,
            max: [DEFAULT_MAX; GROUPS],
            session_controls: DEFAULT_SESSION_CONTROLS,
        }
    }
}
