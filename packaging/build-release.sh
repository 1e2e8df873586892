#!/usr/bin/env bash
# Builds the release artefacts into OUT (default: dist/):
#   kipekee-<version>-<arch>-linux-gnu.tar.gz  binary, unit, example env file, README,
#                                              LICENSE, install.sh, SHA256SUMS
#   kipekee_<version>-1_<debarch>.deb          via cargo-deb ([package.metadata.deb]), with
#                                              the man page written next to the binary first
#   SHA256SUMS                                 of both
# Needs cargo-deb (`cargo install cargo-deb --locked`). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
arch="$(uname -m)"
target_dir="$(cargo metadata --no-deps --format-version 1 \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"

echo "== release build (profile.release: thin LTO, stripped)"
cargo build --release --locked
binary="$target_dir/release/kipekee"
"$binary" --version
echo "needs glibc >= $(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1 | cut -d_ -f2)"
# kipekee(1), generated from the clap definition; [package.metadata.deb] ships it.
"$binary" man | gzip -9n > "$target_dir/release/kipekee.1.gz"

echo "== tarball"
name="kipekee-$version-$arch-linux-gnu"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir"
install -m 0755 "$binary" "$dir/kipekee"
install -m 0644 systemd/kipekee.service "$dir/kipekee.service"
install -m 0644 packaging/kipekee.env.example "$dir/kipekee.env.example"
install -m 0644 README.md LICENSE "$dir/"
install -m 0755 packaging/install.sh "$dir/install.sh"
(cd "$dir" && sha256sum kipekee kipekee.service kipekee.env.example README.md LICENSE install.sh > SHA256SUMS)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-0}" \
  -C "$stage" -czf "$out/$name.tar.gz" "$name"

echo "== .deb"
deb="$(cargo deb --no-build --locked --output "$out" | tail -n1)"
echo "$deb"

(cd "$out" && sha256sum "$name.tar.gz" "$(basename "$deb")" > SHA256SUMS)
cat "$out/SHA256SUMS"
