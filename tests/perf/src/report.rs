//! The samples a run collects, and the table made of them.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::spec::{Metric, Workload};

#[derive(Default)]
pub struct Samples {
    values: BTreeMap<(String, &'static str, String), Vec<f64>>,
    failures: BTreeMap<(String, String), String>,
}

impl Samples {
    pub fn add(&mut self, w: Workload, m: Metric, id: &str, v: f64) {
        self.values
            .entry((w.key(), m.key(), id.to_string()))
            .or_default()
            .push(v);
    }

    pub fn fail(&mut self, w: Workload, id: &str, why: &str) {
        self.failures
            .insert((w.key(), id.to_string()), why.to_string());
    }

    pub fn get(&self, w: Workload, m: Metric, id: &str) -> Option<&[f64]> {
        self.values
            .get(&(w.key(), m.key(), id.to_string()))
            .map(Vec::as_slice)
    }

    pub fn median(&self, w: Workload, m: Metric, id: &str) -> Option<f64> {
        self.get(w, m, id).map(median)
    }

    pub fn failure(&self, w: Workload, id: &str) -> Option<&str> {
        self.failures
            .get(&(w.key(), id.to_string()))
            .map(String::as_str)
    }

    /// Every sample, one per line: workload, metric, implementation, value.
    pub fn tsv(&self) -> String {
        let mut s = String::from("workload\tmetric\timpl\tvalue\n");
        for ((w, m, id), vs) in &self.values {
            for v in vs {
                let _ = writeln!(s, "{w}\t{m}\t{id}\t{v}");
            }
        }
        s
    }
}

pub fn median(vs: &[f64]) -> f64 {
    let mut v = vs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The machine the run was on, for the report's header.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// The results table in Markdown: per workload and metric, each implementation's median,
/// min–max, and ratios to libzmq and to the raw ceiling.
pub fn markdown(
    plan: &[Workload],
    names: &[(&str, &str)],
    samples: &Samples,
    rounds: usize,
    quick: bool,
    io_threads: Option<usize>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# oxmq-perf results\n\n{} round(s){}, medians over rounds; {}; {}.\n\
         Ratios are this implementation's median over libzmq's and over the raw socket's, \
         for rates higher is better, for times and bytes lower is better.\n",
        rounds,
        if quick { " of --quick" } else { "" },
        machine(),
        match io_threads {
            Some(n) => format!("{n} I/O thread(s) per oxmq-mio and libzmq context (--io-threads)"),
            None => "each context at its default I/O threads (1 for oxmq-mio and libzmq)".into(),
        }
    );
    for &w in plan {
        for &m in w.metrics() {
            let _ = writeln!(
                s,
                "### {w}: {}, {} ({})\n",
                m.label(),
                m.unit(),
                if m.higher_is_better() {
                    "higher is better"
                } else {
                    "lower is better"
                }
            );
            let _ = writeln!(
                s,
                "| implementation | median | min–max | × libzmq | × raw |\n|---|---:|---:|---:|---:|"
            );
            let libzmq = samples.median(w, m, w.baseline());
            let raw = samples.median(w, m, "raw");
            for &(id, name) in names {
                if let Some(vs) = samples.get(w, m, id) {
                    let med = median(vs);
                    let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let ratio = |r: Option<f64>| match r {
                        Some(r) if r > 0.0 => format!("{:.2}", med / r),
                        _ => "–".to_string(),
                    };
                    let _ = writeln!(
                        s,
                        "| {name} | {} | {}–{} | {} | {} |",
                        m.show(med),
                        m.show(lo),
                        m.show(hi),
                        ratio(libzmq),
                        ratio(raw)
                    );
                } else if let Some(why) = samples.failure(w, id) {
                    let _ = writeln!(s, "| {name} | failed: {why} | | | |");
                }
            }
            s.push('\n');
        }
    }
    s
}
