//! One SVG bar chart per workload family: each implementation's median as a ratio to
//! libzmq's (libzmq = 1, drawn as a dashed line), grouped by size or variant.

use std::fmt::Write;

use crate::report::Samples;
use crate::spec::{human_size, Metric, Transport, Workload};

/// Bars taller than this many times libzmq are cut and labelled with their value.
const CLIP: f64 = 4.0;

const COLORS: [&str; 6] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f", "#ff7f0e",
];

struct Chart {
    file: String,
    title: String,
    note: &'static str,
    groups: Vec<(String, Workload, Metric)>,
}

fn families(plan: &[Workload]) -> Vec<Chart> {
    let mut charts = Vec::new();
    for t in [Transport::Tcp, Transport::Ipc, Transport::Inproc] {
        let groups: Vec<_> = plan
            .iter()
            .filter(|w| matches!(w, Workload::PushPull { transport, .. } if *transport == t))
            .map(|&w| (human_size(w.size()), w, Metric::Rate))
            .collect();
        charts.push(Chart {
            file: format!("pushpull-{}.svg", t.name()),
            title: format!("PUSH/PULL throughput over {}, by message size", t.name()),
            note: "messages per second relative to libzmq; higher is better",
            groups,
        });
    }
    let mut patterns = Vec::new();
    let mut latency = Vec::new();
    let mut accept = Vec::new();
    let mut curve = Vec::new();
    for &w in plan {
        match w {
            Workload::DealerRouter { transport, size } => patterns.push((
                format!("DEALER→ROUTER {} {}", transport.name(), human_size(size)),
                w,
                Metric::Rate,
            )),
            Workload::PubSub { subs, .. } => {
                patterns.push((format!("PUB→{subs} SUB"), w, Metric::Rate))
            }
            Workload::ReqRep { transport, .. } => {
                latency.push((format!("{} median", transport.name()), w, Metric::P50));
                latency.push((format!("{} p99", transport.name()), w, Metric::P99));
            }
            Workload::Accept => {
                accept.push(("time to accept".to_string(), w, Metric::AcceptTime));
                accept.push(("memory per idle conn".to_string(), w, Metric::BytesPerConn));
            }
            Workload::CurvePushPull { size } => {
                curve.push((human_size(size), w, Metric::Rate));
            }
            Workload::PushPull { .. } => {}
        }
    }
    charts.push(Chart {
        file: "patterns.svg".into(),
        title: "DEALER/ROUTER and PUB/SUB fan-out, 64 B over tcp".into(),
        note: "messages (deliveries) per second relative to libzmq; higher is better",
        groups: patterns,
    });
    charts.push(Chart {
        file: "latency.svg".into(),
        title: "REQ/REP round trip, 64 B".into(),
        note: "round-trip time relative to libzmq; lower is better",
        groups: latency,
    });
    charts.push(Chart {
        file: "connections.svg".into(),
        title: "One ROUTER, many tcp connections".into(),
        note: "relative to libzmq; lower is better",
        groups: accept,
    });
    charts.push(Chart {
        file: "curve.svg".into(),
        title: "PUSH/PULL over tcp with CURVE, by message size".into(),
        note: "messages per second relative to libzmq with libsodium; higher is better",
        groups: curve,
    });
    charts.retain(|c| !c.groups.is_empty());
    charts
}

/// Every chart of the plan, as (file name, SVG text).
pub fn all(plan: &[Workload], names: &[(&str, &str)], samples: &Samples) -> Vec<(String, String)> {
    families(plan)
        .into_iter()
        .map(|c| (c.file.clone(), render(&c, names, samples)))
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render(c: &Chart, names: &[(&str, &str)], samples: &Samples) -> String {
    // Ratios to libzmq per group and implementation.
    let series: Vec<(&str, Vec<Option<f64>>)> = names
        .iter()
        .map(|&(id, name)| {
            let vals = c
                .groups
                .iter()
                .map(|&(_, w, m)| {
                    let base = samples.median(w, m, w.baseline())?;
                    let v = samples.median(w, m, id)?;
                    (base > 0.0).then(|| v / base)
                })
                .collect();
            (name, vals)
        })
        .filter(|(_, vals): &(&str, Vec<Option<f64>>)| vals.iter().any(Option::is_some))
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(1.0f64, f64::max)
        .min(CLIP);
    let top = (top * 1.15).ceil().max(1.5);
    let (w, h) = (960.0, 420.0);
    let (left, right, upper, lower) = (60.0, 20.0, 90.0, 50.0);
    let plot_w = w - left - right;
    let plot_h = h - upper - lower;
    let y = |v: f64| upper + plot_h * (1.0 - v.min(top) / top);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="16" font-weight="bold">{}</text>"#,
        esc(&c.title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#555">{}</text>"##,
        esc(c.note)
    );
    // Legend.
    let mut lx = left;
    for (i, (name, _)) in series.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="54" width="12" height="12" fill="{}"/><text x="{}" y="64">{}</text>"#,
            COLORS[i % COLORS.len()],
            lx + 16.0,
            esc(name)
        );
        lx += 30.0 + 7.0 * name.chars().count() as f64;
    }
    // Grid.
    let step = if top > 3.0 { 1.0 } else { 0.5 };
    let mut g = 0.0;
    while g <= top + 1e-9 {
        let gy = y(g);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{gy:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{g:.1}×</text>"##,
            left + plot_w,
            left - 6.0,
            gy + 4.0
        );
        g += step;
    }
    let one = y(1.0);
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{one:.1}" y2="{one:.1}" stroke="#333" stroke-dasharray="5,4"/>"##,
        left + plot_w
    );
    // Bars.
    let group_w = plot_w / c.groups.len() as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    for (gi, (label, _, _)) in c.groups.iter().enumerate() {
        let gx = left + group_w * gi as f64 + group_w * 0.1;
        for (si, (_, vals)) in series.iter().enumerate() {
            let Some(v) = vals[gi] else { continue };
            let bx = gx + bar_w * si as f64;
            let by = y(v);
            let _ = writeln!(
                s,
                r#"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                bar_w * 0.92,
                upper + plot_h - by,
                COLORS[si % COLORS.len()]
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                bx + bar_w * 0.46,
                by - 3.0,
                if v >= 10.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            gx + group_w * 0.4,
            upper + plot_h + 18.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    s
}
