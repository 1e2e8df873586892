//! `cargo bench --bench submit`: what a visitor waits for when posting a quote, measured on
//! 127.0.0.1 against the release binary and the fake Mailtrap in HTTPS mode (a self-signed
//! certificate the binary trusts through `SSL_CERT_FILE`), with added latency.
//!
//! Two appliances run one after the other in this process: Kipekee as shipped, and the same
//! binary in seed mode (`KIPEKEE_MAILTRAP_SEED_MODE=true`: a new client, so a new TCP+TLS
//! connection, per email, the emails sent one after the other, as the seed's Django view
//! did). Everything else (store, rendering, HTTP) is identical, so the ratio is the sending
//! strategy's alone. Prints one table and writes the same figures as JSON to
//! `target/bench-submit.json` (or `KIPEKEE_BENCH_JSON`).
//!
//! `KIPEKEE_BENCH_QUICK=1` is the CI mode: a few seconds, nothing asserted.
//! `KIPEKEE_BENCH_LATENCY_MS` changes the added latency of the latency and load phases (100).

#[path = "../tests/common/fake_mailtrap.rs"]
mod fake_mailtrap;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use fake_mailtrap::{FakeMailtrap, TOKEN};
use serde_json::{json, Value};

/// How much of each phase to run.
struct Plan {
    quick: bool,
    /// Sequential posts at 0 ms and at `latency`.
    n_overhead: usize,
    n_latency: usize,
    latency: Duration,
    clients: usize,
    load_warmup: Duration,
    load: Duration,
}

impl Plan {
    fn from_env() -> Plan {
        let quick = std::env::var("KIPEKEE_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let latency_ms = std::env::var("KIPEKEE_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let (n_overhead, n_latency, load_warmup, load) = if quick {
            (30, 10, Duration::from_millis(300), Duration::from_secs(1))
        } else {
            (1000, 200, Duration::from_secs(2), Duration::from_secs(10))
        };
        Plan {
            quick,
            n_overhead,
            n_latency,
            latency: Duration::from_millis(latency_ms),
            clients: 64,
            load_warmup,
            load,
        }
    }
}

/// The binary as a child process, killed on drop.
struct Appliance {
    child: Child,
    port: u16,
    startup: Duration,
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Appliance {
    fn start(fake: &FakeMailtrap, dir: &Path, cert: &Path, seed_mode: bool) -> Appliance {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kipekee"));
        cmd.env_clear()
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
            .env("KIPEKEE_DATA_DIR", dir)
            .env("KIPEKEE_SPAM_MIN_SECONDS", "0")
            .env("KIPEKEE_RATE_LIMIT", "0")
            .env("ROCKET_IP_HEADER", "X-Real-IP")
            .env("MAILTRAP_API_URL", fake.url())
            .env("MAILTRAP_API_TOKEN", TOKEN)
            .env("SSL_CERT_FILE", cert)
            .env("DEFAULT_FROM_EMAIL", "Shop <hello@example.com>")
            .env("ADMIN_EMAIL", "owner@example.com")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if seed_mode {
            cmd.env("KIPEKEE_MAILTRAP_SEED_MODE", "true");
        }
        let spawned = Instant::now();
        let child = cmd.spawn().expect("kipekee starts");
        let mut app = Appliance {
            child,
            port,
            startup: Duration::ZERO,
        };
        let probe = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(500))
            .build();
        let health = app.url("/healthz");
        while spawned.elapsed() < Duration::from_secs(30) {
            if probe.get(&health).call().is_ok() {
                app.startup = spawned.elapsed();
                return app;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("kipekee did not become healthy within 30 s");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A `/proc/<pid>/status` figure in MiB (`VmRSS`, `VmHWM`).
    fn memory_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

/// A visitor's browser: one kept-alive connection to the appliance.
fn visitor() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

/// Every post is from a new visitor, as on a real site: confirmation emails are capped per
/// recipient and per client address a day. The address travels in `X-Real-IP`, which the
/// appliance is told to trust (`ROCKET_IP_HEADER`), as behind a reverse proxy.
static VISITORS: AtomicUsize = AtomicUsize::new(0);

/// One quote posted as JSON; its latency in ms if it was stored and both emails were sent.
fn post(agent: &ureq::Agent, url: &str) -> Result<f64, String> {
    let n = VISITORS.fetch_add(1, Ordering::Relaxed);
    let email = format!("visitor-{n}@example.com");
    let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    let started = Instant::now();
    let res = agent
        .post(url)
        .set("Accept", "application/json")
        .set("X-Real-IP", &ip)
        .send_form(&[
            ("full_name", "Bench Visitor"),
            ("email", &email),
            ("message", "Two tents for a week, please."),
        ])
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if res.status() != 201 {
        return Err(format!("HTTP {}", res.status()));
    }
    let body: Value = res.into_json().map_err(|e| e.to_string())?;
    let emails = body["emails"].as_array().cloned().unwrap_or_default();
    if emails.len() != 2 || emails.iter().any(|e| e["status"] != "sent") {
        return Err(format!("emails not sent: {}", body["emails"]));
    }
    Ok(elapsed)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Sequential posts: (sorted latencies, errors).
fn sequential(agent: &ureq::Agent, url: &str, n: usize) -> (Vec<f64>, usize) {
    let mut errors = 0;
    let mut times: Vec<f64> = (0..n)
        .filter_map(|_| post(agent, url).map_err(|_| errors += 1).ok())
        .collect();
    times.sort_by(f64::total_cmp);
    (times, errors)
}

struct Load {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    peak_rss_mib: f64,
}

/// `clients` visitors posting back to back for `duration`; a sampler records the peak RSS.
fn load(app: &Appliance, clients: usize, duration: Duration) -> Load {
    let url = app.url("/f/quote");
    let ok = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(clients + 1);
    let mut peak = f64::NAN;
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let agent = visitor();
                barrier.wait();
                while !stop.load(Ordering::Relaxed) {
                    match post(&agent, &url) {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e);
                            errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            });
        }
        barrier.wait();
        let started = Instant::now();
        while started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(50));
            peak = peak.max(app.memory_mib("VmRSS"));
        }
        elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
    });
    // Posts still in flight when the clock stopped are counted: they started inside it.
    Load {
        ok: ok.into_inner(),
        errors: errors.into_inner(),
        first_error: first_error.into_inner().unwrap(),
        elapsed,
        peak_rss_mib: peak,
    }
}

/// Every figure of one appliance (Kipekee or seed mode).
fn run_mode(plan: &Plan, seed_mode: bool) -> Value {
    let fake = FakeMailtrap::start_https();
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("fake-mailtrap.pem");
    fake.write_cert(&cert);
    let app = Appliance::start(&fake, &dir.path().join("data"), &cert, seed_mode);
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = app.memory_mib("VmRSS");
    let url = app.url("/f/quote");
    let agent = visitor();
    for _ in 0..5 {
        // Warm: the first connection to Mailtrap, the page cache, the allocator.
        post(&agent, &url).expect("warm-up submission");
    }
    let before = (fake.requests().len(), fake.connections());
    let (overhead, mut errors) = sequential(&agent, &url, plan.n_overhead);
    fake.set_latency(plan.latency);
    let (latency, e) = sequential(&agent, &url, plan.n_latency);
    errors += e;
    let posts = (plan.n_overhead + plan.n_latency) as f64;
    let requests = (fake.requests().len() - before.0) as f64 / posts;
    let connections = (fake.connections() - before.1) as f64 / posts;

    load(&app, plan.clients, plan.load_warmup);
    let load_before = (fake.requests().len(), fake.connections());
    let l = load(&app, plan.clients, plan.load);
    let load_posts = (l.ok + l.errors).max(1) as f64;
    let latency_ms = plan.latency.as_secs_f64() * 1000.0;
    json!({
        "overhead_p50_ms": percentile(&overhead, 0.5),
        "overhead_p99_ms": percentile(&overhead, 0.99),
        "latency_p50_ms": percentile(&latency, 0.5),
        "latency_p99_ms": percentile(&latency, 0.99),
        "latency_p50_ratio": percentile(&latency, 0.5) / latency_ms,
        "latency_p99_ratio": percentile(&latency, 0.99) / latency_ms,
        "mailtrap_requests_per_submission": requests,
        "new_connections_per_submission": connections,
        "load_clients": plan.clients,
        "load_seconds": l.elapsed.as_secs_f64(),
        "load_submissions": l.ok,
        "throughput_per_s": l.ok as f64 / l.elapsed.as_secs_f64(),
        "load_mailtrap_requests_per_submission":
            (fake.requests().len() - load_before.0) as f64 / load_posts,
        "load_new_connections_per_submission":
            (fake.connections() - load_before.1) as f64 / load_posts,
        "errors": errors + l.errors,
        "first_load_error": l.first_error,
        "rss_idle_mib": rss_idle,
        "rss_load_peak_mib": l.peak_rss_mib,
        "rss_high_water_mib": app.memory_mib("VmHWM"),
        "startup_ms": app.startup.as_secs_f64() * 1000.0,
    })
}

/// `target/` of this build: the binary lives in `target/release/`.
fn json_path() -> PathBuf {
    if let Ok(p) = std::env::var("KIPEKEE_BENCH_JSON") {
        return PathBuf::from(p);
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_kipekee"));
    bin.parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("target"))
        .join("bench-submit.json")
}

fn main() {
    let plan = Plan::from_env();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let binary_mib = std::fs::metadata(env!("CARGO_BIN_EXE_kipekee"))
        .map_or(f64::NAN, |m| m.len() as f64 / 1024.0 / 1024.0);
    let lat = plan.latency.as_millis();
    eprintln!("kipekee: measuring…");
    let kipekee = run_mode(&plan, false);
    eprintln!("seed mode: measuring…");
    let seed = run_mode(&plan, true);

    println!(
        "quote submission (admin + confirmation email) over HTTPS to a loopback fake Mailtrap; \
         {cores} cores, {date}{}; sequential: {} posts at 0 ms, {} at {lat} ms; load: {} clients for {} s at {lat} ms",
        if plan.quick { ", QUICK mode" } else { "" },
        plan.n_overhead,
        plan.n_latency,
        plan.clients,
        plan.load.as_secs_f64(),
    );
    println!("| | Kipekee | seed mode | seed / Kipekee |");
    println!("|---|---|---|---|");
    let rows: &[(&str, &str, usize)] = &[
        ("overhead p50, 0 ms added (ms)", "overhead_p50_ms", 2),
        ("overhead p99, 0 ms added (ms)", "overhead_p99_ms", 2),
        ("latency p50, LAT ms added (ms)", "latency_p50_ms", 1),
        ("latency p99, LAT ms added (ms)", "latency_p99_ms", 1),
        ("p50 / LAT ms", "latency_p50_ratio", 3),
        ("p99 / LAT ms", "latency_p99_ratio", 3),
        (
            "Mailtrap HTTP requests per submission",
            "mailtrap_requests_per_submission",
            2,
        ),
        (
            "new TCP+TLS connections per submission",
            "new_connections_per_submission",
            3,
        ),
        (
            "throughput, 64 clients, LAT ms (submissions/s)",
            "throughput_per_s",
            0,
        ),
        (
            "Mailtrap requests per submission under load",
            "load_mailtrap_requests_per_submission",
            2,
        ),
        (
            "new TCP+TLS connections per submission under load",
            "load_new_connections_per_submission",
            3,
        ),
        ("errors", "errors", 0),
        ("RSS idle (MiB)", "rss_idle_mib", 1),
        ("RSS under load, peak (MiB)", "rss_load_peak_mib", 1),
        ("start-up, spawn to healthz ok (ms)", "startup_ms", 0),
    ];
    for (label, key, digits) in rows {
        let k = kipekee[key].as_f64().unwrap_or(f64::NAN);
        let s = seed[key].as_f64().unwrap_or(f64::NAN);
        let ratio = if k.abs() > f64::EPSILON {
            format!("{:.2}", s / k)
        } else {
            "-".into()
        };
        println!(
            "| {} | {k:.digits$} | {s:.digits$} | {ratio} |",
            label.replace("LAT", &lat.to_string()),
            digits = *digits
        );
    }
    println!("| binary size (MiB) | {binary_mib:.1} | same binary | |");
    for (name, r) in [("Kipekee", &kipekee), ("seed mode", &seed)] {
        if let Some(e) = r["first_load_error"].as_str() {
            println!("{name}: first error under load: {e}");
        }
    }

    let report = json!({
        "machine": { "cores": cores, "date": date },
        "quick": plan.quick,
        "added_latency_ms": lat as u64,
        "sequential_posts": { "overhead": plan.n_overhead, "latency": plan.n_latency },
        "binary_size_mib": binary_mib,
        "kipekee": kipekee,
        "seed_mode": seed,
    });
    let path = json_path();
    match std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n") {
        Ok(()) => println!("JSON: {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
