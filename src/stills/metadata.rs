//! Image metadata as the RELab plugin shapes it (contract §1.4). Two serialisations: the HTTP
//! one (serde, `"Model"` for the camera model, since the plugin dumps by alias) and the sink one
//! (`to_sink_json`, `"camera_model"`, as the plugin sends to the backend and stores in its queue).
//! Input accepts libcamera's PascalCase keys as well as the snake_case ones.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageMetadata {
    pub camera_properties: CameraProperties,
    pub capture_metadata: CaptureMetadata,
    pub image_properties: ImageProperties,
}

impl ImageMetadata {
    /// The form sent to sinks and kept in the upload queue.
    pub fn to_sink_json(&self) -> Value {
        json!({
            "camera_properties": self.camera_properties.to_sink_json(),
            "capture_metadata": &self.capture_metadata,
            "image_properties": &self.image_properties,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CameraProperties {
    #[serde(rename = "Model", alias = "camera_model")]
    pub camera_model: Option<String>,
    #[serde(alias = "UnitCellSize")]
    pub unit_cell_size: Option<[u32; 2]>,
    #[serde(alias = "PixelArraySize")]
    pub pixel_array_size: Option<[u32; 2]>,
    #[serde(alias = "SensorSensitivity")]
    pub sensor_sensitivity: Option<f64>,
}

impl CameraProperties {
    /// Like the HTTP form, but with `camera_model` for `Model`.
    pub fn to_sink_json(&self) -> Value {
        json!({
            "camera_model": self.camera_model,
            "unit_cell_size": self.unit_cell_size,
            "pixel_array_size": self.pixel_array_size,
            "sensor_sensitivity": self.sensor_sensitivity,
        })
    }
}

/// Per-frame values from libcamera; µs for times, kelvin for colour temperature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureMetadata {
    #[serde(alias = "ExposureTime")]
    pub exposure_time: Option<u32>,
    #[serde(alias = "FrameDuration")]
    pub frame_duration: Option<u32>,
    // libcamera spells it the British way; the plugin's 0.3.1 missed that (§14.5).
    #[serde(alias = "ColourTemperature", alias = "ColorTemperature")]
    pub color_temperature: Option<u32>,
    #[serde(alias = "AnalogueGain")]
    pub analogue_gain: Option<f64>,
    #[serde(alias = "DigitalGain")]
    pub digital_gain: Option<f64>,
    #[serde(alias = "Lux")]
    pub lux: Option<f64>,
    #[serde(alias = "SensorTemperature")]
    pub sensor_temperature: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageProperties {
    pub width: u32,
    pub height: u32,
    /// µs since the Unix epoch; on the wire `capture_time`, UTC at seconds precision
    /// (`2026-04-22T10:00:00Z`), so sub-second parts do not survive a round trip.
    #[serde(
        rename = "capture_time",
        serialize_with = "write_capture_time",
        deserialize_with = "read_capture_time"
    )]
    pub capture_time_unix_us: u64,
}

fn write_capture_time<S: Serializer>(unix_us: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::rfc3339_s(*unix_us))
}

fn read_capture_time<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    crate::clock::parse_rfc3339_utc(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("capture_time {text:?} is not a UTC RFC 3339 time"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageMetadata {
        ImageMetadata {
            camera_properties: CameraProperties {
                camera_model: Some("imx708".into()),
                unit_cell_size: Some([1400, 1400]),
                pixel_array_size: Some([4608, 2592]),
                sensor_sensitivity: Some(1.0),
            },
            capture_metadata: CaptureMetadata {
                exposure_time: Some(10_000),
                frame_duration: Some(33_333),
                color_temperature: Some(4500),
                analogue_gain: Some(1.5),
                digital_gain: Some(1.0),
                lux: Some(400.5),
                sensor_temperature: None,
            },
            image_properties: ImageProperties {
                width: 1920,
                height: 1080,
                capture_time_unix_us: 1_776_852_000_750_000,
            },
        }
    }

    #[test]
    fn http_form_matches_the_contract_byte_for_byte() {
        let text = serde_json::to_string(&sample()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"camera_properties":{"Model":"imx708","unit_cell_size":[1400,1400],"#,
                r#""pixel_array_size":[4608,2592],"sensor_sensitivity":1.0},"#,
                r#""capture_metadata":{"exposure_time":10000,"frame_duration":33333,"#,
                r#""color_temperature":4500,"analogue_gain":1.5,"digital_gain":1.0,"#,
                r#""lux":400.5,"sensor_temperature":null},"#,
                r#""image_properties":{"width":1920,"height":1080,"#,
                r#""capture_time":"2026-04-22T10:00:00Z"}}"#
            )
        );
    }

    #[test]
    fn unknown_values_serialise_as_null() {
        let empty = CameraProperties::default();
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({"Model": null, "unit_cell_size": null, "pixel_array_size": null,
                   "sensor_sensitivity": null})
        );
        let text = serde_json::to_string(&CaptureMetadata::default()).unwrap();
        assert_eq!(text.matches("null").count(), 7);
    }

    #[test]
    fn sink_form_uses_camera_model() {
        let sink = sample().to_sink_json();
        let camera = &sink["camera_properties"];
        assert_eq!(camera["camera_model"], "imx708");
        assert!(camera.get("Model").is_none());
        assert_eq!(camera["unit_cell_size"], json!([1400, 1400]));
        assert_eq!(sink["capture_metadata"]["color_temperature"], 4500);
        assert_eq!(
            sink["image_properties"],
            json!({"width": 1920, "height": 1080, "capture_time": "2026-04-22T10:00:00Z"})
        );
    }

    #[test]
    fn both_forms_read_back() {
        let mut expected = sample();
        expected.image_properties.capture_time_unix_us = 1_776_852_000_000_000;
        let http: ImageMetadata =
            serde_json::from_str(&serde_json::to_string(&sample()).unwrap()).unwrap();
        assert_eq!(http, expected);
        let sink: ImageMetadata = serde_json::from_value(sample().to_sink_json()).unwrap();
        assert_eq!(sink, expected);
    }

    #[test]
    fn reads_libcamera_keys() {
        let camera: CameraProperties = serde_json::from_value(json!({
            "Model": "imx477", "UnitCellSize": [1550, 1550], "PixelArraySize": [4056, 3040],
            "Location": 2, "Rotation": 180
        }))
        .unwrap();
        assert_eq!(camera.camera_model.as_deref(), Some("imx477"));
        assert_eq!(camera.pixel_array_size, Some([4056, 3040]));
        assert_eq!(camera.sensor_sensitivity, None);
        let capture: CaptureMetadata = serde_json::from_value(json!({
            "ExposureTime": 20000, "FrameDuration": 33333, "ColourTemperature": 5200,
            "AnalogueGain": 2.0, "DigitalGain": 1.02, "Lux": 120.0, "SensorTemperature": 41.5,
            "SensorTimestamp": 123456789
        }))
        .unwrap();
        assert_eq!(capture.exposure_time, Some(20000));
        assert_eq!(capture.color_temperature, Some(5200));
        assert_eq!(capture.sensor_temperature, Some(41.5));
        let american: CaptureMetadata =
            serde_json::from_value(json!({"ColorTemperature": 3000})).unwrap();
        assert_eq!(american.color_temperature, Some(3000));
    }

    #[test]
    fn bad_input_is_an_error() {
        let bad_time = json!({"width": 1, "height": 1, "capture_time": "yesterday"});
        let err = serde_json::from_value::<ImageProperties>(bad_time).unwrap_err();
        assert!(err.to_string().contains("capture_time"), "{err}");
        assert!(serde_json::from_value::<ImageProperties>(json!({"width": 1})).is_err());
        let negative = json!({"ExposureTime": -5});
        assert!(serde_json::from_value::<CaptureMetadata>(negative).is_err());
        let short = json!({"unit_cell_size": [1]});
        assert!(serde_json::from_value::<CameraProperties>(short).is_err());
    }
}
