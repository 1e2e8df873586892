//! The real `kipekee` binary as a child process on a free loopback port, killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_kipekee")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Environment for a server using `fake_url` as Mailtrap; every variable the binary could
/// inherit from the developer's shell is overridden or cleared.
pub fn command(data_dir: &Path, port: u16, fake_url: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
        .env("KIPEKEE_DATA_DIR", data_dir)
        .env("MAILTRAP_API_URL", fake_url)
        .env("MAILTRAP_API_TOKEN", super::fake_mailtrap::TOKEN)
        .env("DEFAULT_FROM_EMAIL", super::FROM)
        .env("ADMIN_EMAIL", super::OWNER)
        .env("JOBS_EMAIL", super::JOBS)
        .env("NEWSLETTER_EMAIL", super::NEWS)
        .env("KIPEKEE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        // Tests post instantly and often; the abuse controls have tests of their own.
        .env("KIPEKEE_SPAM_MIN_SECONDS", "0")
        .env("KIPEKEE_RATE_LIMIT", "0")
        .current_dir(std::env::temp_dir());
    cmd
}

impl Server {
    /// Starts the binary and waits until `/healthz` answers (at most 20 s).
    pub fn start(data_dir: &Path, fake_url: &str) -> Server {
        Server::start_command(data_dir, |port| command(data_dir, port, fake_url))
    }

    pub fn start_command(data_dir: &Path, make: impl FnOnce(u16) -> Command) -> Server {
        let port = free_port();
        let log = data_dir.with_extension("log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = make(port)
            .stdout(Stdio::from(out.try_clone().expect("log fd")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("kipekee starts");
        let server = Server {
            child,
            port,
            data_dir: data_dir.to_path_buf(),
            log,
        };
        server.wait_healthy(Duration::from_secs(20));
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_healthy(&self, timeout: Duration) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(500))
            .build();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if agent.get(&self.url("/healthz")).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kipekee did not become healthy; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush beyond what was already on disk.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    /// Kills the process, then checks its whole log for the Mailtrap token: every test that
    /// runs the binary is also a test that no path logs it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            super::secrets::assert_no_secrets(&self.log_text(), &[super::fake_mailtrap::TOKEN]);
        }
    }
}

/// An HTTP client that does not follow redirects, so a 303 can be inspected.
/// The peak resident memory of a process, in MiB (`VmHWM` of `/proc/<pid>/status`).
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024
}

pub fn http() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(15))
        .build()
}
