//! The real binary behind real nginx and Caddy (Debian's packages), configured exactly as the
//! README's deployment files say (`packaging/nginx.conf`, `packaging/Caddyfile`): visitors are
//! told apart by their address (issue 9, item 4), and slow clients held open in their
//! thousands do not stop another visitor's post (issue 12, item 2).

mod common;

use std::net::IpAddr;

use common::process::Server;
use common::proxy::{self, Kind, Proxy};
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
