//! The comparison: start the server, run every client over every workload in alternating
//! order, write the report, the results and the chart.

use std::process::Stdio;

use crate::clients::ClientKind;
use crate::report::{Measurement, Report};
use crate::server::{ServerProcess, cores, pinned};
use crate::workload::Workload;
use crate::{BoxError, CompareArgs, chart};

/// The default part.
pub(crate) fn run(args: &CompareArgs) -> Result<(), BoxError> {
    let reps = args.reps.unwrap_or(if args.quick { 3 } else { 10 });
    if reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    let workloads =
        if args.workloads.is_empty() { Workload::ALL.to_vec() } else { args.workloads.clone() };
    let clients = chosen_clients(&args.clients);
    let (server_core, client_core) = cores(args.no_pin);
    let server = ServerProcess::start(server_core)?;
    eprintln!(
        "test server at {} ({}); {reps} repetitions of {} clients",
        server.base,
        match (server_core, client_core) {
            (Some(s), Some(c)) => format!("server on core {s}, clients on core {c}"),
            _ => "not pinned".to_owned(),
        },
        clients.len()
    );

    let mut measurements = Vec::new();
    for &workload in &workloads {
        for rep in 0..reps {
            // A B C D, then D C B A: no client always runs first or last.
            let order: Vec<ClientKind> = if rep % 2 == 0 {
                clients.clone()
            } else {
                clients.iter().rev().copied().collect()
            };
            for client in order {
                let measurement =
                    run_worker(client, workload, rep, args.quick, &server.base, client_core)?;
                eprintln!("{}", measurement.one_line());
                measurements.push(measurement);
            }
        }
    }
    drop(server);

    let report = Report::new(&measurements, args.quick, client_core.is_some());
    let markdown = report.markdown();
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("report.md"), &markdown)?;
    std::fs::write(args.out.join("results.json"), serde_json::to_string_pretty(&measurements)?)?;
    let svg = args.out.join("loopback.svg");
    chart::draw(&report, &svg)?;
    eprintln!("wrote report.md, results.json and loopback.svg in {}", args.out.display());
    Ok(())
}

/// The clients asked for, hyper first and always (every ratio is taken against it).
fn chosen_clients(asked: &[ClientKind]) -> Vec<ClientKind> {
    ClientKind::ALL
        .into_iter()
        .filter(|kind| *kind == ClientKind::Hyper || asked.is_empty() || asked.contains(kind))
        .collect()
}

/// Runs one client over one workload in a fresh process and reads its measurement.
fn run_worker(
    client: ClientKind,
    workload: Workload,
    rep: usize,
    quick: bool,
    base: &str,
    core: Option<usize>,
) -> Result<Measurement, BoxError> {
    let mut command = pinned(core)?;
    command.arg("worker").arg("--client").arg(value_name(client)?).arg("--workload");
    command.arg(workload.to_string()).arg("--base").arg(base).arg("--rep").arg(rep.to_string());
    if quick {
        command.arg("--quick");
    }
    let output = command.stdin(Stdio::null()).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!(
            "the {} worker for {workload} failed ({})",
            client.name(),
            output.status
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("a worker printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// The command-line spelling of a client (`reqwest-retry`).
fn value_name(client: ClientKind) -> Result<String, BoxError> {
    use clap::ValueEnum;
    let value = client.to_possible_value().ok_or("every client has a name")?;
    Ok(value.get_name().to_owned())
}
