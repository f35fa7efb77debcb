//! The loopback comparison's quick mode runs end to end, so the bench cannot rot: every
//! client completes every workload, W4 fails exactly the planned fifth of first attempts for
//! the clients that do not retry, and the report and the chart are written.

use std::process::Command;

#[test]
fn quick_mode_runs_every_client_over_every_workload() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("loopback-quick");
    let _ = std::fs::remove_dir_all(&out);
    let started = tokio::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_loopback"))
        .args(["--quick", "--reps", "2", "--out"])
        .arg(&out)
        .output()
        .expect("the loopback binary starts");
    assert!(
        output.status.success(),
        "loopback --quick failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(started.elapsed().as_secs() < 60, "quick mode took {:?}", started.elapsed());

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
            .expect("results.json is JSON");
    let results = results.as_array().expect("a list of measurements");
    // 4 workloads × 7 clients × 2 repetitions.
    assert_eq!(results.len(), 56);
    for m in results {
        let (client, workload) = (m["client"].as_str().unwrap(), m["workload"].as_str().unwrap());
        let (requests, ok) = (m["requests"].as_u64().unwrap(), m["ok"].as_u64().unwrap());
        let retries = matches!(
            client,
            "Volley" | "VolleyPlain" | "ReqwestRetry" | "VolleyLayers" | "TowerLayers"
        );
        let expected = if workload == "w4" && !retries { requests * 4 / 5 } else { requests };
        assert_eq!(ok, expected, "{client} on {workload}: {m}");
        assert!(m["elapsed_s"].as_f64().unwrap() > 0.0);
        assert!(m["peak_rss_kib"].as_u64().unwrap() > 0, "VmHWM is read");
        if workload == "w3" {
            assert_eq!(m["bytes"].as_u64().unwrap(), requests * 65_536, "{client} read every byte");
        }
    }

    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for client in [
        "hyper-util",
        "volley",
        "volley, no redirects or decompression",
        "reqwest",
        "reqwest-middleware + retry",
        "volley layers (ServiceBuilder)",
        "tower layers (ServiceBuilder)",
    ] {
        assert_eq!(
            report.matches(&format!("| {client} |")).count(),
            4,
            "{client} has a row per workload"
        );
    }
    assert!(report.contains(
        "| w4: every volley request ends ok | 300 / 300 in the worst repetition | met |"
    ));
    assert!(report.contains("| w1: redirects and decompression on cost ≤ 3 % |"), "{report}");
    assert!(report.contains("| w1: volley's layers ≥ 1.00× tower's layers |"), "{report}");
    let svg = std::fs::read_to_string(out.join("loopback.svg")).expect("loopback.svg");
    assert!(svg.starts_with("<svg") && svg.contains("reqwest-middleware + retry"));
}
