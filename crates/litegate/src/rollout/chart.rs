//! The simulation chart, written as SVG by hand: exposure (devices served
//! the treatment per step, and users ever exposed) and users who saw a
//! failure, over time, with the first local trip and the fleet decisions
//! marked.

use super::simulate::{SimReport, STEP_MINUTES};
use std::fmt::Write;

type SeriesFn = fn(&super::simulate::TimePoint) -> f64;

const W: f64 = 860.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Renders the report's timeline as an SVG document.
pub(crate) fn render_svg(r: &SimReport) -> String {
    let last = r.timeline.last().map_or(60, |p| p.minute + STEP_MINUTES);
    let ymax = nice_max(
        r.timeline
            .iter()
            .map(|p| f64::from(p.exposed_total.max(p.failed_total).max(p.exposed_now)))
            .fold(1.0, f64::max),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |m: i64| LEFT + pw * m as f64 / last as f64;
    let y = |v: f64| TOP + ph * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{} : {} devices, exposure and failures over time</text>
"##,
        escape(&r.flag),
        r.devices
    );
    // Grid and axes.
    for i in 0..=5 {
        let v = ymax * f64::from(i) / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let hours = (last / 60).max(1);
    let step_h = ((hours + 11) / 12).max(1);
    let mut hr = 0;
    while hr <= hours {
        let xx = x(hr * 60);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{hr}h</text>"##,
            H - BOTTOM,
            H - BOTTOM + 5.0,
            H - BOTTOM + 18.0
        );
        hr += step_h;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle">simulated time</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">users / devices</text>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        LEFT + pw / 2.0,
        H - BOTTOM + 36.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // Markers.
    let mut marks: Vec<(i64, &str, &str)> = Vec::new();
    if let Some(m) = r.first_trip_minute {
        marks.push((m, "first local trip", "#d97706"));
    }
    for e in r.events.iter().filter(|e| e.kind == "operation") {
        let color = if e.detail.starts_with("rollback") {
            "#dc2626"
        } else {
            "#2563eb"
        };
        marks.push((e.minute, e.detail.as_str(), color));
    }
    for (i, (m, label, color)) in marks.iter().enumerate() {
        let xx = x(*m);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="{color}" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="{color}">{}</text>"##,
            H - BOTTOM,
            xx + 4.0,
            TOP + 12.0 + 14.0 * (i % 4) as f64,
            escape(label)
        );
    }
    // Series.
    let series: [(&str, &str, SeriesFn); 3] = [
        ("devices served the treatment (per 5 min)", "#2563eb", |p| {
            f64::from(p.exposed_now)
        }),
        ("users ever exposed", "#93c5fd", |p| {
            f64::from(p.exposed_total)
        }),
        ("users who saw a failure", "#dc2626", |p| {
            f64::from(p.failed_total)
        }),
    ];
    for (i, (label, color, f)) in series.iter().enumerate() {
        let mut pts = String::new();
        for p in &r.timeline {
            let _ = write!(pts, "{:.1},{:.1} ", x(p.minute), y(f(p)));
        }
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"##,
            pts.trim_end()
        );
        let lx = LEFT + 10.0 + 290.0 * i as f64;
        let ly = H - 14.0;
        let _ = writeln!(
            s,
            r##"<rect x="{lx:.1}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{:.1}" y="{ly:.1}">{}</text>"##,
            ly - 6.0,
            lx + 18.0,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}
