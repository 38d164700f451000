//! Charts drawn on the server as inline SVG: a horizontal bar chart, a donut, a stacked bar
//! chart and a line chart (trends over days).
//!
//! No script draws anything, so charts show without JavaScript and under the strict CSP. Colours
//! come from CSS classes (`c-<name>`), so dark mode and the severity palette live in the
//! stylesheet; no `style` attribute is ever written (the CSP forbids inline style). Each chart is
//! an `<svg role="img">` whose accessible name lists every value, so screen readers get the
//! numbers, and every mark has a `<title>` tooltip. Labels are escaped here: charts are inserted
//! into pages unescaped.

use std::fmt::Write;

/// Rendered SVG markup, safe to insert into a page as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svg(pub String);

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One value of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datum {
    /// What it counts.
    pub label: String,
    /// How many.
    pub value: u64,
    /// The colour class suffix (`critical` gives `c-critical`); lowercase letters, digits and
    /// dashes only, anything else is replaced.
    pub class: String,
}

impl Datum {
    /// A datum.
    pub fn new(label: impl Into<String>, value: u64, class: &str) -> Datum {
        Datum {
            label: label.into(),
            value,
            class: class.to_owned(),
        }
    }
}

/// One bar of a stacked bar chart: a label and its segments (same order in every row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRow {
    /// The row's label.
    pub label: String,
    /// Its segments.
    pub segments: Vec<Datum>,
}

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn class_name(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if c.is_empty() { "default".into() } else { c }
}

/// Shortens a label to `max` characters with an ellipsis; the full text stays in the tooltip.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn summary(title: &str, data: &[Datum]) -> String {
    let parts: Vec<String> = data
        .iter()
        .map(|d| format!("{} {}", d.label, d.value))
        .collect();
    if parts.is_empty() {
        format!("{title}: no data")
    } else {
        format!("{title}: {}", parts.join(", "))
    }
}

fn open(out: &mut String, width: u32, height: u32, kind: &str, label: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart chart-{kind}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{l}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{l}</title>",
        l = escape(label)
    );
}

fn empty(title: &str, kind: &str) -> Svg {
    let mut out = String::new();
    open(&mut out, WIDTH, 40, kind, &format!("{title}: no data"));
    let _ = write!(
        out,
        "<text class=\"chart-empty\" x=\"{}\" y=\"25\" text-anchor=\"middle\">No data</text></svg>",
        WIDTH / 2
    );
    Svg(out)
}

const WIDTH: u32 = 600;
const DONUT_W: u32 = 400;
const ROW: u32 = 26;
const LABEL_W: f64 = 130.0;
const VALUE_W: f64 = 50.0;

/// A horizontal bar chart, one row per datum, bars scaled to the largest value.
pub fn bar_chart(title: &str, data: &[Datum]) -> Svg {
    let max = data.iter().map(|d| d.value).max().unwrap_or(0);
    if max == 0 {
        return empty(title, "bar");
    }
    let height = ROW * data.len() as u32 + 4;
    let mut out = String::new();
    open(&mut out, WIDTH, height, "bar", &summary(title, data));
    let bar_w = f64::from(WIDTH) - LABEL_W - VALUE_W;
    for (i, d) in data.iter().enumerate() {
        let y = f64::from(ROW * i as u32) + 2.0;
        let w = bar_w * d.value as f64 / max as f64;
        let _ = write!(
            out,
            "<text class=\"chart-label\" x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"chart-mark c-{class}\" x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{h}\" rx=\"2\"><title>{full}: {v}</title></rect>\
             <text class=\"chart-value\" x=\"{vx:.1}\" y=\"{ty:.1}\">{v}</text>",
            lx = LABEL_W - 8.0,
            ty = y + 16.0,
            label = escape(&clip(&d.label, 18)),
            class = class_name(&d.class),
            bx = LABEL_W,
            h = ROW - 6,
            full = escape(&d.label),
            v = d.value,
            vx = LABEL_W + w + 6.0,
        );
    }
    out.push_str("</svg>");
    Svg(out)
}

/// A donut of the data's shares, with the total in the middle and a legend beside it.
pub fn donut(title: &str, data: &[Datum]) -> Svg {
    let total: u64 = data.iter().map(|d| d.value).sum();
    if total == 0 {
        return empty(title, "donut");
    }
    let legend_rows = data.len() as u32;
    let height = (legend_rows * 22 + 10).max(120);
    let mut out = String::new();
    // A donut needs less width than the bar charts: ring on the left, legend beside it.
    open(&mut out, DONUT_W, height, "donut", &summary(title, data));
    // A circle of radius 100/(2π) has a circumference of 100, so dash lengths are percentages.
    let r = 100.0 / (2.0 * std::f64::consts::PI);
    let _ = write!(
        out,
        "<g transform=\"translate(60 60) scale(2.8)\"><circle class=\"chart-track\" r=\"{r:.4}\" fill=\"none\" stroke-width=\"6\"/>"
    );
    let mut offset = 25.0; // start at twelve o'clock
    for d in data.iter().filter(|d| d.value > 0) {
        let pct = 100.0 * d.value as f64 / total as f64;
        let _ = write!(
            out,
            "<circle class=\"chart-ring c-{class}\" r=\"{r:.4}\" fill=\"none\" stroke-width=\"6\" stroke-dasharray=\"{pct:.3} {rest:.3}\" stroke-dashoffset=\"{offset:.3}\"><title>{label}: {v} ({pct:.0}%)</title></circle>",
            class = class_name(&d.class),
            rest = 100.0 - pct,
            label = escape(&d.label),
            v = d.value,
        );
        offset -= pct;
    }
    let _ = write!(
        out,
        "<text class=\"chart-total\" x=\"0\" y=\"2\" text-anchor=\"middle\">{total}</text></g>"
    );
    for (i, d) in data.iter().enumerate() {
        let y = 16 + 22 * i as u32;
        let _ = write!(
            out,
            "<rect class=\"chart-mark c-{class}\" x=\"140\" y=\"{ry}\" width=\"12\" height=\"12\" rx=\"2\"/>\
             <text class=\"chart-label\" x=\"160\" y=\"{ty}\">{label}</text>\
             <text class=\"chart-value\" x=\"{vx}\" y=\"{ty}\" text-anchor=\"end\">{v}</text>",
            vx = DONUT_W - 10,
            class = class_name(&d.class),
            ry = y,
            ty = y + 11,
            label = escape(&clip(&d.label, 26)),
            v = d.value,
        );
    }
    out.push_str("</svg>");
    Svg(out)
}

/// A stacked horizontal bar per row, scaled to the largest row total, with a legend on top.
pub fn stacked_bar(title: &str, rows: &[StackRow]) -> Svg {
    let totals: Vec<u64> = rows
        .iter()
        .map(|r| r.segments.iter().map(|s| s.value).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return empty(title, "stacked");
    }
    let label = {
        let parts: Vec<String> = rows
            .iter()
            .map(|r| {
                let segs: Vec<String> = r
                    .segments
                    .iter()
                    .map(|s| format!("{} {}", s.label, s.value))
                    .collect();
                format!("{} ({})", r.label, segs.join(", "))
            })
            .collect();
        format!("{title}: {}", parts.join("; "))
    };
    let legend_h = 24;
    let height = legend_h + ROW * rows.len() as u32 + 4;
    let mut out = String::new();
    open(&mut out, WIDTH, height, "stacked", &label);
    if let Some(first) = rows.first() {
        let mut x = 0.0;
        for s in &first.segments {
            let _ = write!(
                out,
                "<rect class=\"chart-mark c-{class}\" x=\"{x:.1}\" y=\"4\" width=\"10\" height=\"10\" rx=\"2\"/>\
                 <text class=\"chart-legend\" x=\"{tx:.1}\" y=\"13\">{label}</text>",
                class = class_name(&s.class),
                tx = x + 14.0,
                label = escape(&clip(&s.label, 14)),
            );
            x += 24.0 + 7.0 * clip(&s.label, 14).chars().count() as f64;
        }
    }
    let bar_w = f64::from(WIDTH) - LABEL_W - VALUE_W;
    for (i, (row, total)) in rows.iter().zip(&totals).enumerate() {
        let y = f64::from(legend_h + ROW * i as u32) + 2.0;
        let _ = write!(
            out,
            "<text class=\"chart-label\" x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            lx = LABEL_W - 8.0,
            ty = y + 16.0,
            label = escape(&clip(&row.label, 18)),
        );
        let mut x = LABEL_W;
        for s in row.segments.iter().filter(|s| s.value > 0) {
            let w = bar_w * s.value as f64 / max as f64;
            let _ = write!(
                out,
                "<rect class=\"chart-mark c-{class}\" x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{h}\"><title>{row}: {label} {v}</title></rect>",
                class = class_name(&s.class),
                h = ROW - 6,
                row = escape(&row.label),
                label = escape(&s.label),
                v = s.value,
            );
            x += w;
        }
        let _ = write!(
            out,
            "<text class=\"chart-value\" x=\"{vx:.1}\" y=\"{ty:.1}\">{total}</text>",
            vx = x + 6.0,
            ty = y + 16.0,
        );
    }
    out.push_str("</svg>");
    Svg(out)
}

/// One line of a line chart: its values, one per x label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The legend text.
    pub label: String,
    /// The colour class suffix, as for [`Datum::class`].
    pub class: String,
    /// One value per x position.
    pub values: Vec<u64>,
}

const LINE_H: u32 = 180;
const LINE_LEFT: f64 = 44.0;
const LINE_RIGHT: f64 = 12.0;

/// A line chart of `series` over the x positions `x_labels` (days, oldest first), with a legend
/// on top, the y axis from zero to the largest value, and the first and last x labels shown.
/// Every point has a tooltip, and the accessible name gives each series' first and last value.
pub fn line_chart(title: &str, x_labels: &[String], series: &[Series]) -> Svg {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    if max == 0 || x_labels.is_empty() {
        return empty(title, "line");
    }
    let label = {
        let parts: Vec<String> = series
            .iter()
            .map(|s| {
                let first = s.values.first().copied().unwrap_or(0);
                let last = s.values.last().copied().unwrap_or(0);
                format!("{} from {first} to {last}", s.label)
            })
            .collect();
        format!(
            "{title}, {} to {}: {}",
            x_labels[0],
            x_labels[x_labels.len() - 1],
            parts.join("; ")
        )
    };
    // The legend wraps into rows of four so long cycle lists stay readable.
    let legend_rows = series.len().div_ceil(4) as u32;
    let top = 8 + 18 * legend_rows;
    let height = top + LINE_H + 24;
    let mut out = String::new();
    open(&mut out, WIDTH, height, "line", &label);
    for (i, s) in series.iter().enumerate() {
        let x = 150.0 * (i % 4) as f64;
        let y = 4 + 18 * (i / 4) as u32;
        let _ = write!(
            out,
            "<rect class=\"chart-mark c-{class}\" x=\"{x:.1}\" y=\"{y}\" width=\"10\" height=\"10\" rx=\"2\"/>\
             <text class=\"chart-legend\" x=\"{tx:.1}\" y=\"{ty}\">{label}</text>",
            class = class_name(&s.class),
            tx = x + 14.0,
            ty = y + 9,
            label = escape(&clip(&s.label, 18)),
        );
    }
    let plot_w = f64::from(WIDTH) - LINE_LEFT - LINE_RIGHT;
    let plot_h = f64::from(LINE_H);
    let y_of = |v: u64| f64::from(top) + plot_h - plot_h * v as f64 / max as f64;
    let step = if x_labels.len() > 1 {
        plot_w / (x_labels.len() - 1) as f64
    } else {
        0.0
    };
    let x_of = |i: usize| LINE_LEFT + step * i as f64;
    // Axes: a baseline and the top value, so the scale is readable without gridlines.
    let _ = write!(
        out,
        "<line class=\"chart-axis\" x1=\"{LINE_LEFT}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\"/>\
         <text class=\"chart-value\" x=\"{lx:.1}\" y=\"{b:.1}\" text-anchor=\"end\">0</text>\
         <text class=\"chart-value\" x=\"{lx:.1}\" y=\"{t:.1}\" text-anchor=\"end\">{max}</text>\
         <text class=\"chart-value\" x=\"{LINE_LEFT}\" y=\"{xl:.1}\">{first}</text>\
         <text class=\"chart-value\" x=\"{r:.1}\" y=\"{xl:.1}\" text-anchor=\"end\">{last}</text>",
        b = f64::from(top) + plot_h,
        r = LINE_LEFT + plot_w,
        lx = LINE_LEFT - 6.0,
        t = f64::from(top) + 10.0,
        xl = f64::from(top) + plot_h + 18.0,
        first = escape(&x_labels[0]),
        last = escape(&x_labels[x_labels.len() - 1]),
    );
    for s in series {
        let points: Vec<String> = s
            .values
            .iter()
            .take(x_labels.len())
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        let class = class_name(&s.class);
        let _ = write!(
            out,
            "<polyline class=\"chart-line c-{class}\" fill=\"none\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        for (i, v) in s.values.iter().take(x_labels.len()).enumerate() {
            let _ = write!(
                out,
                "<circle class=\"chart-mark c-{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{}: {} {v}</title></circle>",
                x_of(i),
                y_of(*v),
                escape(&x_labels[i]),
                escape(&s.label),
            );
        }
    }
    out.push_str("</svg>");
    Svg(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The value of attribute `name` on every element `tag` whose markup (up to the next such
    /// element) contains `marker`.
    fn attrs(svg: &str, tag: &str, marker: &str, name: &str) -> Vec<f64> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .filter(|el| el.contains(marker))
            .map(|el| {
                let start = el.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                el[start..].split('"').next().unwrap().parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn bars_are_proportional_to_the_largest_value() {
        let svg = bar_chart(
            "Findings by severity",
            &[
                Datum::new("critical", 10, "critical"),
                Datum::new("high", 5, "high"),
                Datum::new("low", 0, "low"),
            ],
        )
        .0;
        let w = attrs(&svg, "rect", "chart-mark", "width");
        assert_eq!(w.len(), 3);
        let full = f64::from(WIDTH) - LABEL_W - VALUE_W;
        assert!((w[0] - full).abs() < 0.01, "{w:?}");
        assert!((w[1] - full / 2.0).abs() < 0.01, "{w:?}");
        assert_eq!(w[2], 0.0);
        assert!(svg.starts_with("<svg class=\"chart chart-bar\""));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"Findings by severity: critical 10, high 5, low 0\""));
        assert!(svg.contains("class=\"chart-mark c-critical\""));
        assert!(svg.ends_with("</svg>"));
        assert!(
            !svg.contains("style="),
            "inline style is forbidden by the CSP"
        );
    }

    #[test]
    fn labels_and_classes_are_escaped() {
        let svg = bar_chart(
            "<b>x</b>",
            &[Datum::new("a\"<script>&", 1, "Bad class\" onload=\"x")],
        )
        .0;
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("a&quot;&lt;script&gt;&amp;"));
        assert!(svg.contains("c--ad-class--onload--x"));
        assert!(!svg.contains("onload=\""));
    }

    #[test]
    fn empty_data_says_so() {
        for svg in [
            bar_chart("t", &[]),
            bar_chart("t", &[Datum::new("a", 0, "a")]),
            donut("t", &[]),
            stacked_bar("t", &[]),
        ] {
            assert!(svg.0.contains("No data"), "{}", svg.0);
            assert!(svg.0.contains("aria-label=\"t: no data\""));
        }
    }

    #[test]
    fn donut_segments_cover_the_whole_ring_once() {
        let svg = donut(
            "Devices by OS",
            &[
                Datum::new("Debian 12", 3, "s1"),
                Datum::new("Ubuntu 24.04", 1, "s2"),
                Datum::new("None", 0, "s3"),
            ],
        )
        .0;
        let dashes: Vec<f64> = svg
            .split("stroke-dasharray=\"")
            .skip(1)
            .map(|s| s.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(dashes.len(), 2, "zero values draw no segment");
        assert!((dashes.iter().sum::<f64>() - 100.0).abs() < 0.01);
        assert!((dashes[0] - 75.0).abs() < 0.01);
        let offsets = attrs(&svg, "circle", "chart-ring", "stroke-dashoffset");
        assert_eq!(offsets, vec![25.0, -50.0]);
        assert!(svg.contains(">4</text>"), "the total is in the middle");
        assert!(
            svg.contains(">None</text>"),
            "the legend lists every category"
        );
    }

    #[test]
    fn stacked_rows_scale_to_the_largest_total() {
        let row = |label: &str, a: u64, b: u64| StackRow {
            label: label.into(),
            segments: vec![
                Datum::new("pending", a, "pending"),
                Datum::new("dead", b, "dead"),
            ],
        };
        let svg = stacked_bar(
            "Queue depth",
            &[row("diagnostic", 3, 1), row("retention", 1, 1)],
        )
        .0;
        let w = attrs(&svg, "rect", "<title>", "width");
        // Legend swatches have no title; the four bar segments do.
        assert_eq!(w.len(), 4, "{svg}");
        let full = f64::from(WIDTH) - LABEL_W - VALUE_W;
        assert!((w[0] + w[1] - full).abs() < 0.01);
        assert!((w[2] + w[3] - full / 2.0).abs() < 0.01);
        assert!(svg.contains("diagnostic (pending 3, dead 1)"));
    }

    #[test]
    fn line_points_scale_to_the_largest_value() {
        let days: Vec<String> = ["2026-01-01", "2026-01-02", "2026-01-03"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let svg = line_chart(
            "Python devices",
            &days,
            &[Series {
                label: "3.8".into(),
                class: "critical".into(),
                values: vec![0, 5, 10],
            }],
        )
        .0;
        let ys = attrs(&svg, "circle", "chart-mark", "cy");
        assert_eq!(ys.len(), 3);
        assert!((ys[0] - ys[2] - f64::from(LINE_H)).abs() < 0.01, "{ys:?}");
        assert!((ys[0] - ys[1] - f64::from(LINE_H) / 2.0).abs() < 0.01);
        assert!(
            svg.contains(
                "aria-label=\"Python devices, 2026-01-01 to 2026-01-03: 3.8 from 0 to 10\""
            )
        );
        assert!(svg.contains("<title>2026-01-02: 3.8 5</title>"));
        assert!(!svg.contains("style="));
        assert!(line_chart("t", &days, &[]).0.contains("No data"));
    }
}
