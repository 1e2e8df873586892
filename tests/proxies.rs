//! The real binary behind real nginx and Caddy (Debian's packages), configured exactly as the
//! README's deployment files say (`packaging/nginx.conf`, `packaging/Caddyfile`): visitors are
//! told apart by their address, and slow clients held open in their
//! thousands do not stop another visitor's post.

mod common;

use std::net::IpAddr;

use common::process::Server;
use common::proxy::{self, Kind, Proxy};
use common::slow::{SlowClients, Slowness};
use common::FakeMailtrap;

const VISITOR_A: [u8; 4] = [127, 0, 0, 2];
const VISITOR_B: [u8; 4] = [127, 0, 0, 3];
const PROXY_HOST: [u8; 4] = [127, 0, 0, 1];

/// Kipekee as the unit runs it (its `LimitNOFILE`) plus `env`; the fake Mailtrap and data dir
/// live as long as the returned values.
fn kipekee(env: &[(&str, &str)], nofile: u64) -> (Server, FakeMailtrap, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = Server::start_command(&data, |port| {
        proxy::kipekee_command(&data, port, &fake.url(), env, nofile)
    });
    (server, fake, dir)
}

fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}

/// Two posts a minute per visitor; a third from visitor A is refused whatever it claims in
/// `X-Forwarded-For`, and visitor B, behind the same proxy, is still served.
fn visitors_are_told_apart(kind: Kind) {
    if !kind.available() {
        return;
    }
    let env = [
        ("ROCKET_IP_HEADER", "X-Forwarded-For"),
        ("KIPEKEE_TRUSTED_PROXIES", "127.0.0.1"),
        ("KIPEKEE_RATE_LIMIT", "2"),
    ];
    let (server, _fake, _dir) = kipekee(&env, proxy::unit_nofile());
    let proxy = Proxy::start(kind, server.port, 1024);
    let to = proxy.addr();
    let statuses = [
        proxy::post_quote(ip(VISITOR_A), to, &[], "first"),
        proxy::post_quote(
            ip(VISITOR_A),
            to,
            &[("X-Forwarded-For", "198.51.100.1")],
            "2",
        ),
        proxy::post_quote(
            ip(VISITOR_A),
            to,
            &[("X-Forwarded-For", "198.51.100.2")],
            "3",
        ),
        proxy::post_quote(ip(VISITOR_B), to, &[], "another visitor"),
    ];
    let log = server.log_text();
    assert_eq!(statuses, [201, 201, 429, 201], "{kind:?}:\n{log}");
    assert!(log.contains("client_ip=127.0.0.3"), "{log}");
    assert!(!log.contains("client_ip=198.51.100."), "{log}");
}

#[test]
fn visitors_behind_nginx_are_told_apart() {
    visitors_are_told_apart(Kind::Nginx);
}

#[test]
fn visitors_behind_caddy_are_told_apart() {
    visitors_are_told_apart(Kind::Caddy);
}

/// A CDN or load balancer on a trusted address in front of nginx: nginx appends to its
/// `X-Forwarded-For`, and each visitor it names is counted on its own, ports stripped.
/// An unparsable value falls back to the peer (nginx's own address, so those posts share one
/// budget) and is logged once, not per request.
#[test]
fn forwarded_lists_through_nginx_count_each_visitor() {
    if !Kind::Nginx.available() {
        return;
    }
    let env = [
        ("ROCKET_IP_HEADER", "X-Forwarded-For"),
        ("KIPEKEE_RATE_LIMIT", "2"),
    ];
    let (server, _fake, _dir) = kipekee(&env, proxy::unit_nofile());
    let nginx = Proxy::start(Kind::Nginx, server.port, 1024);
    let to = nginx.addr();
    let cdn = ip(PROXY_HOST);
    let post = |xff: &str| proxy::post_quote(cdn, to, &[("X-Forwarded-For", xff)], "via a CDN");
    let statuses = [
        post("198.51.100.22"),
        post("198.51.100.22"),
        post("198.51.100.22"),
        post("203.0.113.52:40001"),
        post("[2001:db8::1]:443"),
        post("unknown"),
        post("unknown"),
        post("unknown"),
    ];
    let log = server.log_text();
    assert_eq!(statuses, [201, 201, 429, 201, 201, 201, 201, 429], "{log}");
    assert!(log.contains("client_ip=203.0.113.52\n"), "{log}");
    assert!(log.contains("client_ip=2001:db8::1\n"), "{log}");
    let warnings = log.matches("not an address").count();
    assert_eq!(warnings, 1, "{log}");
}

const SLOW_CLIENTS: usize = 1050;

/// 1,050 slow connections of each kind from one address are held open while another
/// visitor posts, and the post is served. Kipekee runs under systemd's default open-file
/// limit (1,024), stricter than the unit's `LimitNOFILE`: the proxy alone must hold them.
fn slow_clients_do_not_stop_a_visitor(kind: Kind, proxy_nofile: u64) {
    if !kind.available() {
        return;
    }
    let env = [("ROCKET_IP_HEADER", "X-Forwarded-For")];
    let (server, _fake, _dir) = kipekee(&env, 1024);
    let proxy = Proxy::start(kind, server.port, proxy_nofile);
    for slowness in [
        Slowness::Silent,
        Slowness::HeadByteByByte,
        Slowness::BodyByteByByte,
    ] {
        let slow = SlowClients::open(slowness, ip(VISITOR_A), proxy.addr(), SLOW_CLIENTS);
        let status = proxy::post_quote(ip(VISITOR_B), proxy.addr(), &[], "I am not slow");
        let held = slow.still_open();
        eprintln!(
            "{kind:?}, {slowness:?}: {held} of {SLOW_CLIENTS} slow connections open, {} refused \
             at connect; the visitor's post: {status}",
            slow.refused
        );
        assert_eq!(status, 201, "{kind:?}, {slowness:?}:\n{}", proxy.log_text());
        assert_eq!(slow.refused, 0, "{kind:?}, {slowness:?}");
    }
}

#[test]
fn slow_clients_behind_nginx_do_not_stop_a_visitor() {
    // Debian's nginx.service sets no LimitNOFILE: 1,024, raised by worker_rlimit_nofile.
    slow_clients_do_not_stop_a_visitor(Kind::Nginx, 1024);
}

#[test]
fn slow_clients_behind_caddy_do_not_stop_a_visitor() {
    // Debian's caddy.service: LimitNOFILE=1048576.
    slow_clients_do_not_stop_a_visitor(Kind::Caddy, 1_048_576);
}

/// Measurement for the README, not a check: slow connections straight to the binary under
/// systemd's default open-file limit, until a new visitor can no longer connect.
#[test]
#[ignore = "a measurement: cargo test --test proxies -- --ignored --nocapture"]
fn measure_slow_connections_the_binary_alone_withstands() {
    let nofile = std::env::var("NOFILE").map_or(1024, |v| v.parse().expect("NOFILE"));
    let (server, _fake, _dir) = kipekee(&[], nofile);
    let to: std::net::SocketAddr = ([127, 0, 0, 1], server.port).into();
    let mut held = Vec::new();
    for _ in 0..2000 {
        held.push(SlowClients::open(Slowness::Silent, ip(VISITOR_A), to, 10));
        let probe = proxy::connect(ip(VISITOR_B), to).and_then(|mut s| {
            use std::io::{Read, Write};
            s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer)?;
            Ok(answer)
        });
        if !probe.is_ok_and(|a| a.starts_with(b"HTTP/1.1 200")) {
            break;
        }
    }
    let rss = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "open-file limit {nofile}: {} slow connections held when a new visitor failed (or the \
         end), kipekee {rss}",
        held.len() * 10
    );
}

/// The README shows the deployment files the tests above run, unchanged.
#[test]
fn readme_shows_the_tested_proxy_files_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    for file in [
        "packaging/nginx.conf",
        "packaging/nginx-main.conf",
        "packaging/Caddyfile",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        assert!(
            readme.contains(&format!("\n{text}```\n")),
            "README.md does not show {file} as it is"
        );
    }
}
