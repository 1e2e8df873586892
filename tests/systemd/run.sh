#!/usr/bin/env bash
# The .deb's whole life under a real booted systemd: Debian 12 (bookworm) booted with
# systemd-nspawn, the real packages built by cargo-deb, and inside.sh as a unit whose exit
# status is the container's. Two boots: (1) the previous release installed and used, the new
# .deb installed over it, then restart, a stop during a slow Mailtrap call, a start under
# MemoryMax=1G, systemd-analyze security; (2) after the reboot, the README's backup and
# restore verbatim, apt remove, apt purge, a fresh install, and the tarball's install.sh.
#
# Needs root, debootstrap, systemd-nspawn (systemd-container), cargo-deb and the Debian
# mirror apt uses on this host. Without them it skips loudly; under CI=true it fails instead.
# Cached in $KIPEKEE_TEST_CACHE (default /var/cache/kipekee-test): the debootstrapped root
# and the previous release's .deb (built from the tag $KIPEKEE_PREVIOUS_RELEASE, default
# v0.1.0). The container is limited to 1000 MiB of memory, as a "1 GB" server is.
# KIPEKEE_TEST_DIST=DIR uses the tarball and .deb already built there by
# packaging/build-release.sh; KIPEKEE_TEST_PREV_DEB=FILE uses that .deb as the previous release;
# KIPEKEE_TEST_NSPAWN_ARGS adds systemd-nspawn options (e.g. --bind-ro=DIR for a debug build,
# whose rust-embed reads templates from the source tree).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/tests/systemd"
cache="${KIPEKEE_TEST_CACHE:-/var/cache/kipekee-test}"
prev_ref="${KIPEKEE_PREVIOUS_RELEASE:-v0.1.0}"
# v0.1.0 is this commit of main; a clone without tags still has it.
prev_fallback=d944f3711a54920895c6ee84ee3d8b7eaf3d45d4
packages="systemd,systemd-sysv,dbus,curl,python3"
started=$(date +%s)

skip() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: tests/systemd/run.sh cannot run here and CI=true forbids skipping: $*" >&2
    exit 1
  fi
  echo "########################################################################" >&2
  echo "# SKIPPED tests/systemd/run.sh (the real-systemd test): $*" >&2
  echo "########################################################################" >&2
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root"
for tool in debootstrap systemd-nspawn git; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install debootstrap systemd-container git)"
done
cargo deb --version >/dev/null 2>&1 || skip "cargo-deb is not installed (cargo install cargo-deb --locked)"

# The Debian mirror apt uses here (deb822 sources first, then sources.list).
mirror() {
  { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n' || true
    sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null || true
  } | { grep -v -e security -e '^$' || true; } | sed -n 1p
}

echo "== Debian 12 root ($cache/bookworm-root)"
root_cache="$cache/bookworm-root"
mkdir -p "$cache"
if [ "$(cat "$root_cache/.kipekee-packages" 2>/dev/null)" != "$packages" ]; then
  url="$(mirror)"
  [ -n "$url" ] || skip "no Debian mirror in /etc/apt/sources.list*"
  rm -rf "$root_cache.tmp"
  debootstrap --variant=minbase --include="$packages" bookworm "$root_cache.tmp" "$url" >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log"; echo "FAIL: debootstrap" >&2; exit 1; }
  echo "$packages" >"$root_cache.tmp/.kipekee-packages"
  rm -rf "$root_cache" && mv "$root_cache.tmp" "$root_cache"
fi

target_dir="$(cd "$repo" && cargo metadata --no-deps --format-version 1 |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"

echo "== previous release ($prev_ref)"
prev_commit="$(git -C "$repo" rev-parse --short=7 "$prev_ref^{commit}" 2>/dev/null ||
  { [ "$prev_ref" = v0.1.0 ] && git -C "$repo" rev-parse --short=7 "$prev_fallback^{commit}"; })" ||
  { echo "FAIL: no $prev_ref in the repository (git fetch --tags)" >&2; exit 1; }
prev_dir="$cache/prev/$prev_commit"
prev_deb="${KIPEKEE_TEST_PREV_DEB:-$(ls "$prev_dir"/*.deb 2>/dev/null | head -n1 || true)}"
if [ -z "$prev_deb" ]; then
  # Built in the same target dir, so the dependencies are compiled once; before the new
  # release build below, which puts the new binary back in target/release.
  rm -rf "$prev_dir/src" && mkdir -p "$prev_dir/src"
  git -C "$repo" archive "$prev_commit" | tar -x -C "$prev_dir/src"
  (cd "$prev_dir/src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --locked &&
    CARGO_TARGET_DIR="$target_dir" cargo deb --no-build --locked --output "$prev_dir") >"$prev_dir/build.log" 2>&1 ||
    { tail -n 30 "$prev_dir/build.log"; echo "FAIL: building $prev_ref" >&2; exit 1; }
  prev_deb="$(ls "$prev_dir"/*.deb | head -n1)"
fi
echo "$prev_deb"

work="$(mktemp -d /var/tmp/kipekee-systemd.XXXXXX)"
cg=""
cleanup() {
  [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== this release (packaging/build-release.sh)"
if [ -n "${KIPEKEE_TEST_DIST:-}" ]; then
  cp -r "$KIPEKEE_TEST_DIST" "$work/dist"
else
  "$repo/packaging/build-release.sh" "$work/dist" >"$work/build.log" 2>&1 ||
    { tail -n 30 "$work/build.log"; echo "FAIL: packaging/build-release.sh" >&2; exit 1; }
fi
ls "$work/dist"
if command -v lintian >/dev/null; then
  echo "== lintian (overrides: packaging/debian/lintian-overrides, justified in the README)"
  lintian --fail-on error,warning "$work"/dist/*.deb
elif [ "${CI:-}" = true ]; then
  echo "FAIL: lintian is not installed" >&2; exit 1
else
  echo "# lintian not installed: the .deb is not linted" >&2
fi

echo "== container"
cp -a "$root_cache" "$work/root"
kt="$work/root/root/kt"
mkdir -p "$kt"
cp "$prev_deb" "$kt/prev.deb"
cp "$work"/dist/*.deb "$kt/new.deb"
cp "$work"/dist/*.tar.gz "$here/inside.sh" "$here/fake_mailtrap.py" "$here/post.py" "$kt/"
echo upgrade >"$kt/phase"
head -c 64 /dev/urandom | base64 -w0 >"$kt/cookie-key"
tar -xzf "$work"/dist/*.tar.gz -C "$work" --wildcards '*/kipekee'
printf 'systemd test password\n' | "$work"/kipekee-*/kipekee hash-password >"$kt/admin-hash"
# A real PDF for the job form's CV, printed by Chromium when it is there (cached).
if [ ! -s "$cache/cv.pdf" ] && command -v chromium >/dev/null; then
  chromium --headless --no-sandbox --disable-gpu --print-to-pdf="$cache/cv.pdf" \
    'data:text/html,<h1>Juma Mwangi</h1><p>Safari guide, 8 years.</p>' >/dev/null 2>&1 || true
fi
[ -s "$cache/cv.pdf" ] || { echo "FAIL: no CV PDF (install chromium, or put a PDF at $cache/cv.pdf)" >&2; exit 1; }
cp "$cache/cv.pdf" "$kt/cv.pdf"
# The README's backup and restore blocks, verbatim (the fenced block after each marker).
for name in backup restore; do
  awk -v m="<!-- systemd-test: $name -->" '$0 == m { f = 1; next } f && /^```/ { if (s) exit; s = 1; next } s' \
    "$repo/README.md" >"$kt/readme-$name.sh"
  [ -s "$kt/readme-$name.sh" ] || { echo "FAIL: no '<!-- systemd-test: $name -->' block in README.md" >&2; exit 1; }
done
cat >"$work/root/etc/systemd/system/kipekee-ci.service" <<'EOF'
[Unit]
Description=kipekee systemd test
After=multi-user.target
SuccessAction=exit
FailureAction=exit
[Service]
Type=oneshot
ExecStart=/root/kt/inside.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=600
EOF
ln -sf /etc/systemd/system/kipekee-ci.service "$work/root/etc/systemd/system/multi-user.target.wants/"

# A memory cgroup of 1000 MiB under our own (v1 hosts): sled reads the limit from there.
own="$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)"
if [ -d "/sys/fs/cgroup/memory$own" ] && mkdir "/sys/fs/cgroup/memory$own/kipekee-systemd-$$" 2>/dev/null; then
  cg="/sys/fs/cgroup/memory$own/kipekee-systemd-$$"
  echo 1000M >"$cg/memory.limit_in_bytes"
  touch "$kt/memory-limited"
fi

boot() {
  local rc=0
  echo "== boot: phase $1"
  (
    [ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"
    # PID 1 of this host may not be systemd: no machined registration, no new scope.
    exec timeout 900 systemd-nspawn --quiet --boot --private-network --register=no --keep-unit \
      --machine=kipekee-test -D "$work/root" ${KIPEKEE_TEST_NSPAWN_ARGS:-}
  ) >"$work/boot-$1.log" 2>&1 || rc=$?
  grep -a -e 'inside.sh\[' "$work/boot-$1.log" | sed 's/.*inside.sh\[[0-9]*\]: //' || true
  if [ "$rc" != 0 ] || ! grep -aq "PHASE $1 PASSED" "$work/boot-$1.log"; then
    tail -n 40 "$work/boot-$1.log"
    echo "FAIL: tests/systemd/run.sh, phase $1 (container exit $rc)" >&2
    exit 1
  fi
}
boot upgrade
boot reboot
echo "tests/systemd/run.sh passed in $(($(date +%s) - started)) s"
