//! Which raw format and size to ask a capture device for. No I/O: the device's answers to
//! ENUM_FMT and ENUM_FRAMESIZES come in, a choice comes out.

use std::fmt;

use super::convert::CONVERTIBLE;
use super::device::FrameSizes;
use super::fourcc::FourCc;

/// What the device offers for one pixel format.
#[derive(Debug, Clone)]
pub struct Offer {
    pub fourcc: FourCc,
    /// Empty when the driver does not enumerate sizes (any size may then be asked for).
    pub sizes: Vec<FrameSizes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub fourcc: FourCc,
    pub width: u32,
    pub height: u32,
}

/// Why no format can be asked for; each case lists what the device offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateError {
    /// The format asked for is not one we convert.
    NotConvertible(FourCc),
    /// The format asked for is not offered.
    NotOffered {
        wanted: FourCc,
        offered: Vec<FourCc>,
    },
    /// No offered format is one we convert.
    NothingConvertible { offered: Vec<FourCc> },
}

impl fmt::Display for NegotiateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NegotiateError::NotConvertible(wanted) => {
                write!(
                    f,
                    "{wanted} cannot be converted to I420 (YUYV, NV12 and YU12 can)"
                )
            }
            NegotiateError::NotOffered { wanted, offered } => write!(
                f,
                "the device does not offer {wanted} (it offers {})",
                list(offered)
            ),
            NegotiateError::NothingConvertible { offered } => write!(
                f,
                "no format we can convert (YUYV, NV12, YU12); the device offers {}",
                list(offered)
            ),
        }
    }
}

impl std::error::Error for NegotiateError {}

fn list(offered: &[FourCc]) -> String {
    if offered.is_empty() {
        return "none".to_string();
    }
    let names: Vec<String> = offered.iter().map(FourCc::to_string).collect();
    names.join(", ")
}

/// Picks the format we convert most cheaply among those offering `width`x`height`;
/// when none does, the cheapest format at its discrete size nearest the wish. `only`
/// restricts the choice to one format (the `--format` override).
pub fn choose(
    offers: &[Offer],
    width: u32,
    height: u32,
    only: Option<FourCc>,
) -> Result<Choice, NegotiateError> {
    let usable: Vec<&Offer> = CONVERTIBLE
        .iter()
        .filter_map(|f| offers.iter().find(|o| o.fourcc == *f))
        .filter(|o| only.is_none_or(|f| f == o.fourcc))
        .collect();
    if usable.is_empty() {
        let offered = offers.iter().map(|o| o.fourcc).collect();
        return Err(match only {
            Some(f) if !CONVERTIBLE.contains(&f) => NegotiateError::NotConvertible(f),
            Some(wanted) => NegotiateError::NotOffered { wanted, offered },
            None => NegotiateError::NothingConvertible { offered },
        });
    }
    let fits = |o: &&&Offer| o.sizes.is_empty() || o.sizes.iter().any(|s| s.allows(width, height));
    if let Some(o) = usable.iter().find(fits) {
        return Ok(Choice {
            fourcc: o.fourcc,
            width,
            height,
        });
    }
    let o = usable[0];
    let (w, h) = nearest(&o.sizes, width, height).unwrap_or((width, height));
    Ok(Choice {
        fourcc: o.fourcc,
        width: w,
        height: h,
    })
}

/// The discrete size closest in area to the wish, or the stepwise range's clamp.
fn nearest(sizes: &[FrameSizes], width: u32, height: u32) -> Option<(u32, u32)> {
    let wanted = width as i64 * height as i64;
    sizes
        .iter()
        .map(|s| match *s {
            FrameSizes::Discrete { width, height } => (width, height),
            FrameSizes::Stepwise(r) => (
                width.clamp(r.min_width, r.max_width),
                height.clamp(r.min_height, r.max_height),
            ),
        })
        .min_by_key(|&(w, h)| (w as i64 * h as i64 - wanted).abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::fourcc::{NV12, YU12, YUYV};

    /// A format the capture path cannot convert.
    const MJPEG: FourCc = FourCc::new(b"MJPG");

    fn discrete(list: &[(u32, u32)]) -> Vec<FrameSizes> {
        list.iter()
            .map(|&(width, height)| FrameSizes::Discrete { width, height })
            .collect()
    }

    #[test]
    fn prefers_the_cheapest_conversion_at_the_wanted_size() {
        let offers = [
            Offer {
                fourcc: YUYV,
                sizes: discrete(&[(640, 480), (1280, 720)]),
            },
            Offer {
                fourcc: NV12,
                sizes: discrete(&[(1280, 720)]),
            },
            Offer {
                fourcc: YU12,
                sizes: discrete(&[(640, 480)]),
            },
        ];
        let c = choose(&offers, 1280, 720, None).unwrap();
        assert_eq!((c.fourcc, c.width, c.height), (NV12, 1280, 720));
        let c = choose(&offers, 640, 480, None).unwrap();
        assert_eq!(c.fourcc, YU12);
    }

    #[test]
    fn the_override_restricts_the_choice() {
        let offers = [
            Offer {
                fourcc: YUYV,
                sizes: vec![],
            },
            Offer {
                fourcc: YU12,
                sizes: vec![],
            },
        ];
        assert_eq!(choose(&offers, 640, 480, Some(YUYV)).unwrap().fourcc, YUYV);
        assert_eq!(
            choose(&offers, 640, 480, Some(NV12))
                .unwrap_err()
                .to_string(),
            "the device does not offer NV12 (it offers YUYV, YU12)"
        );
    }

    #[test]
    fn without_the_size_takes_the_nearest_discrete_one() {
        let offers = [Offer {
            fourcc: YUYV,
            sizes: discrete(&[(320, 240), (800, 600), (1920, 1080)]),
        }];
        let c = choose(&offers, 1024, 576, None).unwrap();
        assert_eq!((c.width, c.height), (800, 600));
    }

    #[test]
    fn compressed_only_devices_are_refused_by_name() {
        let offers = [Offer {
            fourcc: MJPEG,
            sizes: vec![],
        }];
        assert_eq!(
            choose(&offers, 640, 480, None).unwrap_err().to_string(),
            "no format we can convert (YUYV, NV12, YU12); the device offers MJPG"
        );
        assert_eq!(
            choose(&offers, 640, 480, Some(MJPEG))
                .unwrap_err()
                .to_string(),
            "MJPG cannot be converted to I420 (YUYV, NV12 and YU12 can)"
        );
    }
}
