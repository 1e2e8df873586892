//! Real reverse proxies in front of the real binary: Debian's nginx and Caddy, started on a
//! free loopback port with the README's configuration (`packaging/nginx.conf`,
//! `packaging/Caddyfile`), and a raw HTTP/1.1 client that connects from a chosen loopback
//! address, so that visitors are told apart by their source address as on the internet.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use tempfile::TempDir;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Caddy,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Caddy => "caddy",
        }
    }

    fn path(self) -> Option<std::path::PathBuf> {
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
            .iter()
            .map(|d| Path::new(d).join(self.binary()))
            .find(|p| p.exists())
    }

    /// Whether the proxy can be run here. Absent outside CI: a loud skip. Absent under
    /// `CI=true`: a failure, since `.ci/run` installs both.
    pub fn available(self) -> bool {
        let found = self.path().is_some();
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            found || !ci,
            "{} is not installed, and CI is set: .ci/run installs it",
            self.binary()
        );
        if !found {
            eprintln!(
                "\n\n!!!!! SKIPPED: {} is not installed (apt-get install nginx caddy); \
                 the proxy tests did not run !!!!!\n\n",
                self.binary()
            );
        }
        found
    }
}

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// `packaging/nginx.conf` with its `# tls` lines replaced by a loopback `listen`, and the
/// unit's upstream `127.0.0.1:8000` by the test server's port.
pub fn nginx_site(port: u16, upstream: u16) -> String {
    repo_file("packaging/nginx.conf")
        .lines()
        .filter_map(|line| match line.trim_start() {
            l if l.starts_with("listen") && l.ends_with("# tls") => {
                Some(format!("    listen 127.0.0.1:{port};"))
            }
            l if l.ends_with("# tls") => None,
            _ => Some(line.to_string()),
        })
        .map(|l| l.replace("127.0.0.1:8000", &format!("127.0.0.1:{upstream}")) + "\n")
        .collect()
}

/// `packaging/Caddyfile` with the `# site` address served in plain HTTP on a loopback port, the
/// upstream pointed at the test server, and Caddy's admin API off (tests run side by side).
pub fn caddyfile(port: u16, upstream: u16) -> String {
    let text = repo_file("packaging/Caddyfile");
    let mut out = String::new();
    let mut global_opened = false;
    for line in text.lines() {
        let line = if line.trim_end().ends_with("# site") {
            format!("http://forms.example.com:{port} {{\n\tbind 127.0.0.1")
        } else {
            line.replace("127.0.0.1:8000", &format!("127.0.0.1:{upstream}"))
        };
        out.push_str(&line);
        out.push('\n');
        if !global_opened && line.trim() == "{" {
            global_opened = true;
            out.push_str("\tadmin off\n");
        }
    }
    assert!(
        global_opened,
        "packaging/Caddyfile has no global options block"
    );
    out
}

/// A running proxy; stopped (and waited for) on drop.
pub struct Proxy {
    child: Child,
    pub kind: Kind,
    pub port: u16,
    pub dir: TempDir,
}

impl Proxy {
    /// Starts the proxy in front of `upstream` and waits until kipekee's `/healthz` answers
    /// through it (at most 20 s). `nofile`: the proxy's open-file limit (`ulimit -n`).
    pub fn start(kind: Kind, upstream: u16, nofile: u64) -> Proxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = super::process::free_port();
        let (program, args) = match kind {
            Kind::Nginx => {
                let site = dir.path().join("kipekee.conf");
                std::fs::write(&site, nginx_site(port, upstream)).expect("site file");
                let conf = dir.path().join("nginx.conf");
                std::fs::write(&conf, nginx_main(dir.path(), &site)).expect("nginx.conf");
                let args = vec![
                    "-p".into(),
                    dir.path().display().to_string(),
                    "-e".into(),
                    dir.path().join("error.log").display().to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                ];
                (kind.path(), args)
            }
            Kind::Caddy => {
                let file = dir.path().join("Caddyfile");
                std::fs::write(&file, caddyfile(port, upstream)).expect("Caddyfile");
                let args = vec![
                    "run".into(),
                    "--adapter".into(),
                    "caddyfile".into(),
                    "--config".into(),
                    file.display().to_string(),
                ];
                (kind.path(), args)
            }
        };
        let log = std::fs::File::create(dir.path().join("proxy.log")).expect("log");
        let program = program.expect("the proxy is installed (Kind::available)");
        let program = program.display().to_string();
        let child = limited(nofile, &program, &args)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let proxy = Proxy {
            child,
            kind,
            port,
            dir,
        };
        proxy.wait_ready();
        proxy
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log_text(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}{}",
            read("proxy.log").unwrap_or_default(),
            read("error.log").unwrap_or_default()
        )
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let from = IpAddr::from([127, 0, 0, 1]);
            if let Ok((200, body)) = request(from, self.addr(), "GET", "/healthz", &[], "") {
                if body.contains("\"status\"") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{:?} did not come up; log:\n{}", self.kind, self.log_text());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM: nginx's master takes its workers down with it (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/etc/nginx/nginx.conf` with one worker (a 1-CPU host: Debian's `worker_processes auto`
/// at its smallest), `packaging/nginx-main.conf` for the main context, paths in the test's
/// directory, and the site file in the `http` block.
fn nginx_main(dir: &Path, site: &Path) -> String {
    let d = dir.display();
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx-main.conf");
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nuser root;\ninclude {};\n\
         http {{\n  access_log off;\n  error_log {d}/error.log;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n  include {};\n}}\n",
        main.display(),
        site.display()
    )
}

/// `program args…` under an open-file limit, as systemd's `LimitNOFILE` would set it (at
/// most the hard limit this test runs under).
pub fn limited(nofile: u64, program: &str, args: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "n={nofile}; h=$(ulimit -Hn); \
             if [ \"$h\" != unlimited ] && [ \"$h\" -lt \"$n\" ]; then n=$h; fi; \
             ulimit -Sn \"$n\" && exec \"$0\" \"$@\""
        ))
        .arg(program)
        .args(args);
    cmd
}

/// A TCP connection from `from` (any 127.x.y.z address is this host's on Linux).
pub fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(10))?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(stream)
}

/// One HTTP/1.1 request from `from`, `Connection: close`; the status and the body.
pub fn request(
    from: IpAddr,
    to: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = connect(from, to)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: forms.example.com\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

/// A JSON quote request through `to` from `from`; the status.
pub fn post_quote(from: IpAddr, to: SocketAddr, extra: &[(&str, &str)], message: &str) -> u16 {
    let body = serde_json::json!({
        "full_name": "Neema Juma", "email": "neema@visitor.example", "message": message,
    })
    .to_string();
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    headers.extend_from_slice(extra);
    match request(from, to, "POST", "/f/quote", &headers, &body) {
        Ok((status, _)) => status,
        Err(e) => panic!("post from {from} through {to}: {e}"),
    }
}

/// The unit's `LimitNOFILE` (systemd's default soft limit, 1024, without one).
pub fn unit_nofile() -> u64 {
    repo_file("systemd/kipekee.service")
        .lines()
        .find_map(|l| l.trim().strip_prefix("LimitNOFILE="))
        .map_or(1024, |v| {
            let soft = v.split(':').next().unwrap_or(v);
            soft.trim().parse().expect("LimitNOFILE is a number")
        })
}

/// The binary as `process::command` configures it, under an open-file limit.
pub fn kipekee_command(
    data_dir: &Path,
    port: u16,
    fake_url: &str,
    env: &[(&str, &str)],
    nofile: u64,
) -> Command {
    let base = super::process::command(data_dir, port, fake_url);
    let mut cmd = limited(nofile, super::process::binary(), &[]);
    cmd.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(std::env::temp_dir());
    cmd
}
