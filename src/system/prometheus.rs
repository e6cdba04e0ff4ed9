//! The Prometheus text of `GET /metrics`: the plugin's gauges byte for byte (names, HELP
//! texts, order, Python float formatting), then picamd's own metrics.

use std::fmt::Write;

use super::snapshot::SystemSnapshot;
use super::thermal::ThermalState;

/// The media type the plugin answers `/metrics` with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only ever grows; the name should end in `_total`.
    Counter,
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// One of picamd's own metrics, appended after the plugin's block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    pub value: f64,
}

/// The exposition text. `preview_sessions` is the number of live viewers (the plugin always
/// printed 0.0); `preview_fps` and an unknown temperature are omitted, as in the plugin.
pub fn render(
    s: &SystemSnapshot,
    preview_fps: Option<f64>,
    preview_sessions: u64,
    extra: &[Metric],
) -> String {
    let mut out = String::with_capacity(1024 + extra.len() * 128);
    gauge(
        &mut out,
        "rpi_cam_cpu_percent",
        "CPU utilisation as a percentage (0-100).",
        s.cpu_percent,
    );
    gauge(
        &mut out,
        "rpi_cam_mem_percent",
        "Memory utilisation as a percentage (0-100).",
        s.mem_percent,
    );
    gauge(
        &mut out,
        "rpi_cam_disk_percent",
        "Disk utilisation on images volume (0-100).",
        s.disk_percent,
    );
    gauge(
        &mut out,
        "rpi_cam_preview_sessions",
        "Number of active LL-HLS preview subscribers on the local MediaMTX.",
        preview_sessions as f64,
    );
    if let Some(temp) = s.cpu_temp_c {
        gauge(
            &mut out,
            "rpi_cam_cpu_temp_celsius",
            "SoC die temperature in Celsius.",
            temp,
        );
    }
    if let Some(fps) = preview_fps {
        gauge(
            &mut out,
            "rpi_cam_preview_fps",
            "Observed preview encoder frames-per-second.",
            fps,
        );
    }
    out.push_str("# HELP rpi_cam_thermal_state Thermal governor state (1 for the active band).\n");
    out.push_str("# TYPE rpi_cam_thermal_state gauge\n");
    for state in ThermalState::ALL {
        let active = u8::from(state == s.thermal_state);
        let _ = writeln!(
            out,
            "rpi_cam_thermal_state{{state=\"{}\"}} {active}",
            state.as_str()
        );
    }
    for m in extra {
        if !is_valid_name(m.name) {
            log::warn!("metric name {:?} is not valid Prometheus; skipped", m.name);
            continue;
        }
        let value = match m.kind {
            MetricKind::Counter if m.value.is_finite() && m.value.fract() == 0.0 => {
                format!("{:.0}", m.value)
            }
            _ => py_float(m.value),
        };
        write_metric(&mut out, m.name, m.help, m.kind, &value);
    }
    out
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    write_metric(out, name, help, MetricKind::Gauge, &py_float(value));
}

fn write_metric(out: &mut String, name: &str, help: &str, kind: MetricKind, value: &str) {
    // HELP text may not contain raw backslashes or newlines in the text format.
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
    let _ = writeln!(out, "{name} {value}");
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, the text format's metric name rule.
fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation with at
/// least one decimal (`44.0`, `0.0001`) unless the decimal exponent is below −4 or above 15,
/// where it switches to `1e-05` / `1.5e+16`; `inf`, `-inf`, `nan`.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` finds how many digits the shortest round-trip form needs ("4.4e1", "1e-5",
    // "0e0"), but breaks an exact tie in the last digit upwards where CPython picks the even
    // digit; formatting to that many digits rounds the exact value half-to-even, as CPython.
    let shortest = format!("{:e}", v.abs());
    let sig_digits = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.bytes().filter(u8::is_ascii_digit).count());
    let sci = format!("{:.*e}", sig_digits.saturating_sub(1), v.abs());
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci;
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    // Position of the decimal point relative to the digits: value = 0.DIGITS × 10^point.
    let point = exp + 1;
    if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.unsigned_abs());
    }
    let len = digits.len() as i32;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        format!("{sign}0.{zeros}{digits}")
    } else if point >= len {
        let zeros = "0".repeat((point - len) as usize);
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(temp: Option<f64>) -> SystemSnapshot {
        SystemSnapshot {
            cpu_percent: 18.5,
            mem_percent: 44.0,
            disk_percent: 12.34,
            cpu_temp_c: temp,
            thermal_state: ThermalState::from_temp(temp),
        }
    }

    const WARM_62: &str = "\
# HELP rpi_cam_cpu_percent CPU utilisation as a percentage (0-100).
# TYPE rpi_cam_cpu_percent gauge
rpi_cam_cpu_percent 18.5
# HELP rpi_cam_mem_percent Memory utilisation as a percentage (0-100).
# TYPE rpi_cam_mem_percent gauge
rpi_cam_mem_percent 44.0
# HELP rpi_cam_disk_percent Disk utilisation on images volume (0-100).
# TYPE rpi_cam_disk_percent gauge
rpi_cam_disk_percent 12.34
# HELP rpi_cam_preview_sessions Number of active LL-HLS preview subscribers on the local MediaMTX.
# TYPE rpi_cam_preview_sessions gauge
rpi_cam_preview_sessions 0.0
# HELP rpi_cam_cpu_temp_celsius SoC die temperature in Celsius.
# TYPE rpi_cam_cpu_temp_celsius gauge
rpi_cam_cpu_temp_celsius 62.0
# HELP rpi_cam_thermal_state Thermal governor state (1 for the active band).
# TYPE rpi_cam_thermal_state gauge
rpi_cam_thermal_state{state=\"normal\"} 0
rpi_cam_thermal_state{state=\"warm\"} 1
rpi_cam_thermal_state{state=\"throttle\"} 0
rpi_cam_thermal_state{state=\"critical\"} 0
";

    #[test]
    fn matches_the_plugin_text_at_62_degrees() {
        assert_eq!(render(&snapshot(Some(62.0)), None, 0, &[]), WARM_62);
    }

    #[test]
    fn exactly_one_thermal_line_is_active() {
        for (temp, active) in [
            (None, "normal"),
            (Some(48.2), "normal"),
            (Some(62.0), "warm"),
            (Some(77.0), "throttle"),
            (Some(85.5), "critical"),
        ] {
            let text = render(&snapshot(temp), None, 0, &[]);
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("rpi_cam_thermal_state{"))
                .collect();
            assert_eq!(lines.len(), 4);
            let on: Vec<&&str> = lines.iter().filter(|l| l.ends_with(" 1")).collect();
            assert_eq!(
                on,
                [&format!("rpi_cam_thermal_state{{state=\"{active}\"}} 1").as_str()]
            );
            assert_eq!(lines.iter().filter(|l| l.ends_with(" 0")).count(), 3);
        }
    }

    #[test]
    fn unknown_temperature_is_omitted_and_fps_shown_when_known() {
        let text = render(&snapshot(None), Some(29.97), 3, &[]);
        assert!(!text.contains("rpi_cam_cpu_temp_celsius"));
        assert!(text.contains("rpi_cam_preview_sessions 3.0\n"));
        let fps = "# HELP rpi_cam_preview_fps Observed preview encoder frames-per-second.\n\
                   # TYPE rpi_cam_preview_fps gauge\n\
                   rpi_cam_preview_fps 29.97\n\
                   # HELP rpi_cam_thermal_state";
        assert!(text.contains(fps), "{text}");
        assert!(text.ends_with("rpi_cam_thermal_state{state=\"critical\"} 0\n"));
        assert!(!text.ends_with("\n\n"));
        // Temperature comes before fps when both are known.
        let both = render(&snapshot(Some(50.0)), Some(30.0), 0, &[]);
        let temp_at = both.find("rpi_cam_cpu_temp_celsius 50.0\n").unwrap();
        assert!(temp_at < both.find("rpi_cam_preview_fps 30.0\n").unwrap());
    }

    #[test]
    fn extra_metrics_follow_the_plugin_block() {
        let extra = [
            Metric {
                name: "picamd_frames_dropped_total",
                help: "Frames dropped for a slow consumer.",
                kind: MetricKind::Counter,
                value: 12.0,
            },
            Metric {
                name: "picamd_upload_queue_depth",
                help: "Captures waiting for upload.",
                kind: MetricKind::Gauge,
                value: 2.0,
            },
            Metric {
                name: "picamd_bytes_total",
                help: "Odd\\help\ntext.",
                kind: MetricKind::Counter,
                value: 0.5,
            },
            Metric {
                name: "9bad name",
                help: "Never shown.",
                kind: MetricKind::Gauge,
                value: 1.0,
            },
        ];
        let text = render(&snapshot(Some(62.0)), None, 0, &extra);
        let tail = "\
# HELP picamd_frames_dropped_total Frames dropped for a slow consumer.
# TYPE picamd_frames_dropped_total counter
picamd_frames_dropped_total 12
# HELP picamd_upload_queue_depth Captures waiting for upload.
# TYPE picamd_upload_queue_depth gauge
picamd_upload_queue_depth 2.0
# HELP picamd_bytes_total Odd\\\\help\\ntext.
# TYPE picamd_bytes_total counter
picamd_bytes_total 0.5
";
        assert_eq!(text, format!("{WARM_62}{tail}"));
    }

    #[test]
    fn metric_names() {
        assert!(is_valid_name("rpi_cam_cpu_percent"));
        assert!(is_valid_name(":x_1"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("1abc"));
        assert!(!is_valid_name("a-b"));
        assert!(!is_valid_name("a b"));
    }

    #[test]
    fn python_float_repr() {
        // Expected strings are CPython 3's repr() of the same values.
        let cases: [(f64, &str); 27] = [
            (44.0, "44.0"),
            (12.0, "12.0"),
            (18.5, "18.5"),
            (0.1, "0.1"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.5e-7, "1.5e-07"),
            (54.321, "54.321"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            // Exact ties in the last digit go to the even digit (.25 → .2, .625 → .62).
            (6_435_531_714_575_641.0 / 4.0, "1608882928643910.2"),
            (672_679_773_198_653.0 / 8.0, "84084971649831.62"),
            (-2_949_769_577_535_709.0 / 4.0, "-737442394383927.2"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float(v), want, "{v:?}");
        }
        assert_eq!(py_float(-1e-7), "-1e-07");
        assert_eq!(py_float(1234.5), "1234.5");
    }
}
