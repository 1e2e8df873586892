//! Tests that need system packages (chromium and chromedriver, nginx, caddy,
//! systemd-nspawn): they run where the tools are, skip with a loud line where they are not,
//! and fail instead of skipping under `CI=true` (`.ci/run`), so CI always runs them all.

use std::path::Path;

/// Whether `tool` (a command name, or an absolute path) can be run here. When it cannot:
/// under `CI=true` this panics naming `install`; otherwise it prints a `SKIPPED` banner to
/// stderr (shown by `cargo test`) and returns false, and the caller returns early.
pub fn require_tool(tool: &str, install: &str) -> bool {
    if found(tool) {
        return true;
    }
    let why = format!("`{tool}` is not installed ({install})");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {why}: CI runs every test, nothing may be skipped");
    }
    eprintln!("\n########## SKIPPED {}: {why} ##########\n", test_name());
    false
}

fn found(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}
