//! Distances on the Earth and what the speed of light allows.

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6_371.0;

/// How far a signal travels in optical fibre per millisecond: c / n with a group index of about
/// 1.47 for single-mode fibre (ITU-T G.652), ≈ 204 km/ms; 200 is the figure network engineers
/// use, and rounding down only makes the lower bound more lenient.
pub const FIBRE_KM_PER_MS: f64 = 200.0;

/// Great-circle distance between two (latitude, longitude) points in degrees, km (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().clamp(0.0, 1.0).asin()
}

/// The least round-trip time, ms, between two points `km` apart: there and back in fibre along
/// the great circle. No real path is shorter; most are 1.5–3 × longer.
pub fn rtt_floor_ms(km: f64) -> f64 {
    2.0 * km.max(0.0) / FIBRE_KM_PER_MS
}

/// A UTC offset in seconds as `UTC+9`, `UTC−5:30`.
pub fn offset_label(secs: i32) -> String {
    let sign = if secs < 0 { '−' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_known_city_pairs() {
        // New York (40.7128, −74.0060) to London (51.5074, −0.1278): 5,570 km by great circle.
        let d = distance_km((40.7128, -74.0060), (51.5074, -0.1278));
        assert!((d - 5_570.0).abs() < 15.0, "{d}");
        assert_eq!(distance_km((10.0, 20.0), (10.0, 20.0)), 0.0);
        // Antipodes: half the circumference.
        let half = distance_km((0.0, 0.0), (0.0, 180.0));
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }

    #[test]
    fn the_rtt_floor_is_there_and_back_in_fibre() {
        assert_eq!(rtt_floor_ms(1_000.0), 10.0);
        assert_eq!(rtt_floor_ms(-5.0), 0.0);
        assert_eq!(offset_label(9 * 3600), "UTC+9");
        assert_eq!(offset_label(-(5 * 3600 + 1800)), "UTC−5:30");
    }
}
