//! Python's `round(x, n)`, which the wire values are defined by.

/// `round(x, digits)` as Python computes it: the exact binary value rounded half-to-even at
/// `digits` decimals. Rust's fixed-precision formatting rounds the same way, so the text it
/// produces parses back to Python's result. Non-finite values pass through unchanged.
pub fn py_round(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.digits$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::py_round;

    #[test]
    fn matches_python_round() {
        // Values checked against CPython 3: round(0.25, 1) == 0.2, round(2.675, 2) == 2.67, ...
        assert_eq!(py_round(0.25, 1), 0.2);
        assert_eq!(py_round(0.35, 1), 0.3);
        assert_eq!(py_round(2.675, 2), 2.67);
        assert_eq!(py_round(123.456, 1), 123.5);
        assert_eq!(py_round(123.456, 2), 123.46);
        assert_eq!(py_round(18.55, 1), 18.6);
        assert_eq!(py_round(1e-5, 1), 0.0);
        assert_eq!(py_round(-1.25, 1), -1.2);
        assert_eq!(py_round(44.0, 2), 44.0);
    }

    #[test]
    fn non_finite_passes_through() {
        assert!(py_round(f64::NAN, 1).is_nan());
        assert_eq!(py_round(f64::INFINITY, 2), f64::INFINITY);
        assert_eq!(py_round(f64::NEG_INFINITY, 2), f64::NEG_INFINITY);
    }
}
