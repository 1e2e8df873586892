//! Build script: records the git commit the binary was built from, for `kipekee --version`.
//! Outside a git checkout (a source tarball, a packaged build) the commit is `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rustc-env=KIPEKEE_GIT_COMMIT={}", commit());
    println!("cargo:rerun-if-changed=build.rs");
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it points at (a
    // commit). Only files that exist are named, or cargo would rerun this on every build.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(String::from)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
        .filter_map(|name| git(&["rev-parse", "--git-path", &name]))
    {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn commit() -> String {
    git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into())
}

/// The trimmed output of a successful `git` command, run in the package directory.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
