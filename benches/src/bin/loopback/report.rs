//! Measurements, their medians and ratios, and the report in Markdown.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::clients::ClientKind;
use crate::workload::Workload;

/// What one worker measured: one client, one workload, one repetition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Measurement {
    pub(crate) client: ClientKind,
    pub(crate) workload: Workload,
    pub(crate) rep: usize,
    pub(crate) requests: usize,
    pub(crate) concurrency: usize,
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) bytes: u64,
    pub(crate) elapsed_s: f64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) first_error: Option<String>,
}

impl Measurement {
    /// Requests per second over the measured pass.
    pub(crate) fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed_s
    }

    /// A progress line for stderr.
    pub(crate) fn one_line(&self) -> String {
        let error =
            self.first_error.as_deref().map(|e| format!(" (first error: {e})")).unwrap_or_default();
        format!(
            "{} rep {:>2} {:<27} {:>8.0} req/s  {:.3} s  ok {}/{}  p50 {:.2} ms  p99 {:.2} ms  peak RSS {:.1} MiB{error}",
            self.workload,
            self.rep,
            self.client.name(),
            self.throughput(),
            self.elapsed_s,
            self.ok,
            self.requests,
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.peak_rss_kib as f64 / 1024.0,
        )
    }
}

/// Medians over the repetitions of one client on one workload.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub(crate) workload: Workload,
    pub(crate) client: ClientKind,
    pub(crate) reps: usize,
    pub(crate) requests: usize,
    pub(crate) throughput: f64,
    pub(crate) elapsed_s: f64,
    /// Median over repetitions of this client's throughput over hyper-util's in the same
    /// repetition.
    pub(crate) ratio_to_hyper: Option<f64>,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) peak_rss_mib: f64,
    /// The fewest ok requests in any repetition.
    pub(crate) ok_min: usize,
}

/// Every summary, and the paired ratios the targets need.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) summaries: Vec<Summary>,
    measurements: Vec<Measurement>,
    quick: bool,
    pinned: bool,
}

impl Report {
    /// Summarises `measurements` by workload and client.
    pub(crate) fn new(measurements: &[Measurement], quick: bool, pinned: bool) -> Self {
        let mut report =
            Self { summaries: Vec::new(), measurements: measurements.to_vec(), quick, pinned };
        for workload in Workload::ALL {
            for client in ClientKind::ALL {
                let runs: Vec<&Measurement> = measurements
                    .iter()
                    .filter(|m| m.workload == workload && m.client == client)
                    .collect();
                if let Some(summary) = report.summarise(workload, client, &runs) {
                    report.summaries.push(summary);
                }
            }
        }
        report
    }

    fn summarise(
        &self,
        workload: Workload,
        client: ClientKind,
        runs: &[&Measurement],
    ) -> Option<Summary> {
        let first = runs.first()?;
        let median_of =
            |f: &dyn Fn(&Measurement) -> f64| median(runs.iter().map(|m| f(m)).collect());
        Some(Summary {
            workload,
            client,
            reps: runs.len(),
            requests: first.requests,
            throughput: median_of(&Measurement::throughput),
            elapsed_s: median_of(&|m| m.elapsed_s),
            ratio_to_hyper: self.paired_ratio(workload, client, ClientKind::Hyper),
            p50_ms: median_of(&|m| m.p50_us as f64 / 1000.0),
            p99_ms: median_of(&|m| m.p99_us as f64 / 1000.0),
            peak_rss_mib: median_of(&|m| m.peak_rss_kib as f64 / 1024.0),
            ok_min: runs.iter().map(|m| m.ok).min().unwrap_or(0),
        })
    }

    /// The median, over repetitions run by both, of `client`'s throughput over `baseline`'s.
    pub(crate) fn paired_ratio(
        &self,
        workload: Workload,
        client: ClientKind,
        baseline: ClientKind,
    ) -> Option<f64> {
        let find = |kind: ClientKind, rep: usize| {
            self.measurements
                .iter()
                .find(|m| m.workload == workload && m.client == kind && m.rep == rep)
        };
        let ratios: Vec<f64> = self
            .measurements
            .iter()
            .filter(|m| m.workload == workload && m.client == client)
            .filter_map(|m| Some(find(baseline, m.rep)?.elapsed_s / m.elapsed_s))
            .collect();
        (!ratios.is_empty()).then(|| median(ratios))
    }

    fn summary(&self, workload: Workload, client: ClientKind) -> Option<&Summary> {
        self.summaries.iter().find(|s| s.workload == workload && s.client == client)
    }

    /// The tables and the targets, in Markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let reps = self.summaries.iter().map(|s| s.reps).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "## Loopback throughput ({}, {reps} repetitions per client, {})\n",
            if self.quick { "quick mode: a tenth of the requests" } else { "full workloads" },
            if self.pinned { "server and clients pinned to separate cores" } else { "not pinned" },
        );
        out.push_str("| workload | client | req/s | ratio to hyper-util | elapsed (s) | p50 (ms) | p99 (ms) | peak RSS (MiB) | ok (fewest in a rep) |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for s in &self.summaries {
            let _ = writeln!(
                out,
                "| {} (N={}, C={}) | {} | {:.0} | {} | {:.3} | {:.2} | {:.2} | {:.1} | {} / {} |",
                s.workload.describe(),
                s.requests,
                s.workload.concurrency(),
                s.client.name(),
                s.throughput,
                s.ratio_to_hyper.map_or("–".to_owned(), |r| format!("{r:.3}×")),
                s.elapsed_s,
                s.p50_ms,
                s.p99_ms,
                s.peak_rss_mib,
                s.ok_min,
                s.requests,
            );
        }
        out.push_str("\nMedians over repetitions; ratios are taken within each repetition, then the median.\n\n");
        out.push_str(&self.targets());
        out
    }

    /// The targets, each with what was measured and whether it is met.
    fn targets(&self) -> String {
        let mut rows = Vec::new();
        let verdict = |met: bool| if met { "met" } else { "**missed**" };
        for (workload, floor) in [(Workload::W1, 0.93), (Workload::W3, 0.97)] {
            if let Some(r) = self.paired_ratio(workload, ClientKind::Volley, ClientKind::Hyper) {
                rows.push((
                    format!("{workload}: volley ≥ {floor:.2}× hyper-util"),
                    format!("{r:.3}×"),
                    verdict(r >= floor),
                ));
            }
            if let Some(r) =
                self.paired_ratio(workload, ClientKind::VolleyLayers, ClientKind::TowerLayers)
            {
                rows.push((
                    format!("{workload}: volley's layers ≥ 1.00× tower's layers"),
                    format!("{r:.3}×"),
                    verdict(r >= 1.0),
                ));
            }
            if let Some(r) =
                self.paired_ratio(workload, ClientKind::Volley, ClientKind::ReqwestRetry)
            {
                rows.push((
                    format!("{workload}: volley ≥ 1.15× reqwest-middleware + retry"),
                    format!("{r:.3}×"),
                    verdict(r >= 1.15),
                ));
            }
        }
        for workload in [Workload::W1, Workload::W3] {
            if let Some(r) =
                self.paired_ratio(workload, ClientKind::Volley, ClientKind::VolleyPlain)
            {
                rows.push((
                    format!("{workload}: redirects and decompression on cost ≤ 3 %"),
                    format!("{r:.3}×"),
                    verdict(r >= 0.97),
                ));
            }
        }
        if let (Some(volley), Some(hyper)) = (
            self.summary(Workload::W2, ClientKind::Volley),
            self.summary(Workload::W2, ClientKind::Hyper),
        ) {
            let change = (volley.elapsed_s / hyper.elapsed_s - 1.0) * 100.0;
            rows.push((
                "w2: volley's elapsed within 3 % of hyper-util".to_owned(),
                format!("{change:+.1} %"),
                verdict(change.abs() <= 3.0),
            ));
        }
        if let Some(volley) = self.summary(Workload::W4, ClientKind::Volley) {
            rows.push((
                "w4: every volley request ends ok".to_owned(),
                format!("{} / {} in the worst repetition", volley.ok_min, volley.requests),
                verdict(volley.ok_min == volley.requests),
            ));
        }
        if let Some(r) =
            self.paired_ratio(Workload::W4, ClientKind::Volley, ClientKind::ReqwestRetry)
        {
            rows.push((
                "w4: volley ≥ 1.2× reqwest-middleware + retry".to_owned(),
                format!("{r:.3}×"),
                verdict(r >= 1.2),
            ));
        }
        let mut out = String::from("| target | measured | verdict |\n|---|---:|---|\n");
        for (target, measured, verdict) in rows {
            let _ = writeln!(out, "| {target} | {measured} | {verdict} |");
        }
        out
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
