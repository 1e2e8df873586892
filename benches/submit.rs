//! `cargo bench --bench submit`: the latency a visitor waits for one quote submission, against
//! the real binary and a loopback fake Mailtrap with added latency. Prints one table.
//! `KIPEKEE_BENCH_N` sets the submissions per row (default 200; CI uses a small number).

#[path = "../tests/common/fake_mailtrap.rs"]
mod fake_mailtrap;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_mailtrap::{FakeMailtrap, TOKEN};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(fake: &FakeMailtrap, dir: &std::path::Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_kipekee"))
        .env_clear()
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_CONFIG", "/nonexistent")
        .env("RUST_LOG", "warn")
        .env("KIPEKEE_DATA_DIR", dir)
        .env("MAILTRAP_API_URL", fake.url())
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .env("DEFAULT_FROM_EMAIL", "Shop <hello@example.com>")
        .env("ADMIN_EMAIL", "owner@example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kipekee starts");
    let server = Server(child, port);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(300))
        .build();
    for _ in 0..200 {
        if agent
            .get(&format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_ok()
        {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("kipekee did not start");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Row {
    latency_ms: u64,
    p50: f64,
    p99: f64,
    requests_per_submission: f64,
    connections: usize,
}

fn run(latency_ms: u64, n: usize) -> Row {
    let fake = FakeMailtrap::start();
    fake.set_latency(Duration::from_millis(latency_ms));
    let dir = tempfile::tempdir().unwrap();
    let server = start(&fake, dir.path());
    let url = format!("http://127.0.0.1:{}/f/quote", server.1);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let post = || {
        let started = Instant::now();
        let res = agent
            .post(&url)
            .set("Accept", "application/json")
            .send_form(&[
                ("full_name", "Bench Visitor"),
                ("email", "visitor@example.com"),
                ("message", "Two tents for a week, please."),
            ])
            .expect("submission accepted");
        assert_eq!(res.status(), 201);
        started.elapsed().as_secs_f64() * 1000.0
    };
    for _ in 0..5 {
        post(); // warm: first connection to Mailtrap, page cache, allocator
    }
    let warm_requests = fake.requests().len();
    let mut times: Vec<f64> = (0..n).map(|_| post()).collect();
    times.sort_by(|a, b| a.total_cmp(b));
    Row {
        latency_ms,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        requests_per_submission: (fake.requests().len() - warm_requests) as f64 / n as f64,
        connections: fake.connections(),
    }
}

fn main() {
    let n: usize = std::env::var("KIPEKEE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!("one quote submission (admin + confirmation email), {n} sequential posts per row");
    println!("| added Mailtrap latency | p50 ms | p99 ms | p50 / latency | Mailtrap requests per submission | TCP connections to Mailtrap |");
    println!("|---|---|---|---|---|---|");
    for latency in [0, 100] {
        let r = run(latency, n);
        let ratio = if r.latency_ms == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", r.p50 / r.latency_ms as f64)
        };
        println!(
            "| {} ms | {:.2} | {:.2} | {} | {:.2} | {} |",
            r.latency_ms, r.p50, r.p99, ratio, r.requests_per_submission, r.connections
        );
    }
}
