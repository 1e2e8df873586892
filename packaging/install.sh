#!/bin/sh
# Installs kipekee from an unpacked release tarball: the binary to /usr/local/bin, the unit
# to /etc/systemd/system (ExecStart pointed at that binary), and /etc/kipekee/kipekee.env
# (mode 0600) unless one exists. Run as root from the tarball's directory; re-running it is
# an upgrade (the env file is kept). DESTDIR installs into another root (packaging tests).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="${DESTDIR:-}"
bindir="${BINDIR:-/usr/local/bin}"

(cd "$here" && sha256sum -c --quiet SHA256SUMS)

install -d -m 0755 "$root$bindir" "$root/etc/systemd/system" "$root/etc/kipekee"
install -m 0755 "$here/kipekee" "$root$bindir/kipekee.new"
mv -f "$root$bindir/kipekee.new" "$root$bindir/kipekee"
sed "s|^ExecStart=/usr/bin/kipekee|ExecStart=$bindir/kipekee|" "$here/kipekee.service" \
  > "$root/etc/systemd/system/kipekee.service"
chmod 0644 "$root/etc/systemd/system/kipekee.service"

env_file="$root/etc/kipekee/kipekee.env"
if [ -e "$env_file" ]; then
  echo "kept $env_file"
else
  install -m 0600 "$here/kipekee.env.example" "$env_file"
  echo "created $env_file: set MAILTRAP_API_TOKEN, DEFAULT_FROM_EMAIL, ADMIN_EMAIL, KIPEKEE_PUBLIC_URL"
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "installed $("$root$bindir/kipekee" --version)"
echo "next: edit $env_file, then: systemctl enable --now kipekee (upgrade: systemctl restart kipekee)"
