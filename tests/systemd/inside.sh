#!/bin/bash
# Runs inside the booted Debian 12 container as kipekee-ci.service (run.sh puts it there);
# its exit status is the container's. Phase 1 ("upgrade"): the previous release's .deb, its
# data, the new .deb over it, then the service's life. Phase 2 ("reboot"): after a reboot,
# the README's backup and restore, remove, purge, a fresh install, and the tarball route.
set -euo pipefail
kt=/root/kt
phase="$(cat "$kt/phase")"
TOKEN=mailtrap-token-5f1e9c
COOKIE_KEY=$(cat "$kt/cookie-key")
HASH=$(cat "$kt/admin-hash")

step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*"
  journalctl -u kipekee -o cat --no-pager | tail -n 40 || true
  exit 1
}
up() {
  for _ in $(seq 1 150); do
    curl -sf http://127.0.0.1:8000/healthz >/dev/null && return 0
    sleep 0.1
  done
  fail "kipekee not healthy"
}
# The loopback /healthz counts ("submissions":N).
count() { curl -sf http://127.0.0.1:8000/healthz | grep -o '"submissions":[0-9]*' | cut -d: -f2; }
mails() { curl -sf http://127.0.0.1:8025/__messages | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
quote() {
  local r
  r=$(python3 "$kt/post.py" quote "full_name=Asha Systemd" email=asha@visitor.example \
    "message=$1") || fail "quote post failed"
  case "$r" in "303 "*email=sent*) ;; *) fail "quote post answered: $r" ;; esac
}
# Exit status and result of the last run of the service.
stopped_cleanly() {
  [ "$(systemctl show -p Result --value kipekee)" = success ] &&
    [ "$(systemctl show -p ExecMainStatus --value kipekee)" = 0 ]
}
no_secret_in_journal() {
  local j
  j=$(journalctl -u kipekee -o cat --no-pager)
  for secret in "$TOKEN" "$COOKIE_KEY" "$HASH" Orbiting; do
    if grep -qF -- "$secret" <<<"$j"; then fail "the journal holds a secret (${secret:0:8}…)"; fi
  done
}
configure() {  # the owner's env file, every value single-quoted as the shipped file shows
  cat >/etc/kipekee/kipekee.env <<EOF
MAILTRAP_API_TOKEN='$TOKEN'
MAILTRAP_API_URL='http://127.0.0.1:8025'
DEFAULT_FROM_EMAIL='Acme Tours <info@acme.test>'
ADMIN_EMAIL='owner@acme.test'
KIPEKEE_PUBLIC_URL='http://127.0.0.1:8000'
KIPEKEE_SPAM_MIN_SECONDS='0'
KIPEKEE_ADMIN_PASSWORD_HASH='$HASH'
ROCKET_SECRET_KEY='$COOKIE_KEY'
EOF
}
apt_install() {  # as `apt install ./x.deb` answering dpkg's conffile question with its default (keep)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@" >"$kt/apt.log" 2>&1 || { cat "$kt/apt.log"; fail "apt-get install $*"; }
}

python3 "$kt/fake_mailtrap.py" --port 8025 --token "$TOKEN" --log "$kt/mails.jsonl" &
for _ in $(seq 1 50); do curl -s http://127.0.0.1:8025/__messages >/dev/null && break; sleep 0.1; done

if [ "$phase" = upgrade ]; then
  step "install the previous release ($(dpkg-deb -f "$kt/prev.deb" Version)) and use it"
  apt_install "$kt/prev.deb"
  # The 0.1.0 README's env file: unquoted values, as systemd reads them.
  cat >/etc/kipekee/kipekee.env <<EOF
MAILTRAP_API_TOKEN=$TOKEN
MAILTRAP_API_URL=http://127.0.0.1:8025
DEFAULT_FROM_EMAIL=Acme Tours <info@acme.test>
ADMIN_EMAIL=owner@acme.test
KIPEKEE_PUBLIC_URL=http://127.0.0.1:8000
KIPEKEE_SPAM_MIN_SECONDS=0
KIPEKEE_ADMIN_PASSWORD_HASH=$HASH
ROCKET_SECRET_KEY=$COOKIE_KEY
EOF
  systemctl daemon-reload
  systemctl enable --now kipekee
  up
  if [ -f "$kt/memory-limited" ]; then
    step "control: the previous release under the 1000 MiB limit logs sled's ERROR"
    journalctl -u kipekee -o cat --no-pager | grep -q 'ERROR.*cache capacity' ||
      fail "the old binary logged no cache ERROR: the memory check below could not fail"
  fi
  quote "before the upgrade"
  r=$(python3 "$kt/post.py" job "full_name=Juma CV" email=juma@visitor.example \
    position=Guide "file:cv=$kt/cv.pdf") || fail "job post failed"
  case "$r" in "303 "*) ;; *) fail "job post answered: $r" ;; esac
  [ "$(count)" = 2 ] || fail "expected 2 submissions before the upgrade, got $(count)"
  before=$(systemctl show -p InvocationID --value kipekee)

  step "upgrade to $(dpkg-deb -f "$kt/new.deb" Version) with apt"
  apt_install "$kt/new.deb"
  up
  after=$(systemctl show -p InvocationID --value kipekee)
  [ "$before" != "$after" ] || fail "the upgrade did not restart the service"
  curl -sf http://127.0.0.1:8000/healthz | grep -q "\"version\":\"$(dpkg-deb -f "$kt/new.deb" Version | cut -d- -f1)" ||
    fail "not the new version after the upgrade: $(curl -s http://127.0.0.1:8000/healthz)"
  # Merged /usr: /lib/systemd/system is the same directory; the file must have survived
  # dpkg removing the old package's path.
  [ -f /usr/lib/systemd/system/kipekee.service ] || fail "the unit file is gone after the upgrade"
  [ "$(readlink -f "$(systemctl show -p FragmentPath --value kipekee)")" = /usr/lib/systemd/system/kipekee.service ] ||
    fail "unit at $(systemctl show -p FragmentPath --value kipekee)"
  dpkg -S /usr/lib/systemd/system/kipekee.service >/dev/null || fail "the package does not own the unit"
  [ "$(count)" = 2 ] || fail "submissions after the upgrade: $(count)"
  systemctl stop kipekee
  summary=$(KIPEKEE_DATA_DIR=/var/lib/kipekee kipekee backup "$kt/after-upgrade.backup")
  echo "$summary"
  grep -q '2 submission(s), 1 file(s)' <<<"$summary" || fail "not every submission and file: $summary"
  KIPEKEE_DATA_DIR=/var/lib/kipekee kipekee export --format json | grep -q '"cv.pdf"' ||
    fail "the CV's file name is not in the export"
  systemctl start kipekee
  up

  step "a quote reaches the fake Mailtrap"
  m=$(mails)
  quote "after the upgrade"
  [ "$(mails)" = $((m + 2)) ] || fail "the fake got $(($(mails) - m)) emails, not 2"

  step "restart keeps the data"
  systemctl restart kipekee
  up
  [ "$(count)" = 3 ] || fail "after restart: $(count)"

  step "stop while a Mailtrap call takes 7 s"
  curl -sf -X POST -d '{"latency_ms": 7000}' http://127.0.0.1:8025/__control >/dev/null
  m=$(mails)
  python3 "$kt/post.py" quote "full_name=Slow Stop" email=slow@visitor.example \
    "message=sent while stopping" >"$kt/slow-post" &
  post=$!
  for _ in $(seq 1 100); do [ "$(mails)" -gt "$m" ] && break; sleep 0.1; done
  [ "$(mails)" -gt "$m" ] || fail "the slow send never reached the fake"
  systemctl stop kipekee
  wait "$post" || true
  stopped_cleanly || fail "stop during a slow send: $(systemctl show -p Result -p ExecMainStatus kipekee)"
  grep -q "^303 .*email=sent" "$kt/slow-post" || fail "the visitor's answer: $(cat "$kt/slow-post")"
  journalctl -u kipekee -o cat --no-pager | grep -q 'store flushed' || fail "no flush at stop"
  no_secret_in_journal
  curl -sf -X POST -d '{"latency_ms": 0}' http://127.0.0.1:8025/__control >/dev/null

  step "start under MemoryMax=1G logs no ERROR"
  mkdir -p /etc/systemd/system/kipekee.service.d
  printf '[Service]\nMemoryMax=1G\n' >/etc/systemd/system/kipekee.service.d/memory.conf
  systemctl daemon-reload
  systemctl start kipekee
  up
  [ "$(count)" = 4 ] || fail "after the slow stop: $(count)"
  id=$(systemctl show -p InvocationID --value kipekee)
  if journalctl -o cat --no-pager _SYSTEMD_INVOCATION_ID="$id" | grep ERROR; then
    fail "ERROR logged under MemoryMax=1G"
  fi
  rm -r /etc/systemd/system/kipekee.service.d
  systemctl daemon-reload

  step "systemd-analyze security"
  exposure=$(systemd-analyze security kipekee --no-pager | tail -n1)
  echo "$exposure"
  level=$(grep -o '[0-9]*\.[0-9]' <<<"$exposure" | head -n1)
  awk -v l="$level" 'BEGIN { exit !(l <= 1.1) }' || fail "exposure $level above 1.1"
  systemctl is-enabled kipekee >/dev/null || fail "not enabled before the reboot"
  echo reboot >"$kt/phase"
  echo "PHASE upgrade PASSED"
  exit 0
fi

if [ "$phase" = reboot ]; then
  step "after a reboot the enabled service runs with its data"
  up
  [ "$(count)" = 4 ] || fail "after the reboot: $(count)"

  step "the README's backup and restore, verbatim, as root"
  bash -ex "$kt/readme-backup.sh"
  up
  quote "made after the backup"
  [ "$(count)" = 5 ] || fail "before the restore: $(count)"
  bash -ex "$kt/readme-restore.sh"
  up
  [ "$(count)" = 4 ] || fail "the restore did not bring back the backed-up store: $(count)"

  step "the README's check with the env file sourced by sh"
  configure
  sh -c 'set -a; . /etc/kipekee/kipekee.env; kipekee check' >"$kt/check-sh" || fail "sh could not source the env file"
  systemd-run --quiet --pipe --wait -p EnvironmentFile=/etc/kipekee/kipekee.env /usr/bin/kipekee check >"$kt/check-systemd" ||
    fail "kipekee check with systemd's reading of the env file"
  diff "$kt/check-sh" "$kt/check-systemd" || fail "sh and systemd read the env file differently"
  grep -q 'Acme Tours <info@acme.test>' "$kt/check-sh" || fail "DEFAULT_FROM_EMAIL not read: $(cat "$kt/check-sh")"

  step "apt remove stops the service"
  apt-get remove -y -q kipekee >"$kt/apt.log" 2>&1 || { cat "$kt/apt.log"; fail "apt remove"; }
  ! systemctl is-active --quiet kipekee || fail "still active after apt remove"
  [ "$(systemctl show -p MainPID --value kipekee)" = 0 ] || fail "a kipekee process after apt remove"
  [ ! -e /usr/bin/kipekee ] || fail "binary left after remove"

  step "apt purge leaves nothing enabled, keeps the data"
  apt-get purge -y -q kipekee >"$kt/apt.log" 2>&1 || { cat "$kt/apt.log"; fail "apt purge"; }
  left=$(find /etc/systemd /usr/lib/systemd /run/systemd/system -name 'kipekee.service*' 2>/dev/null || true)
  [ -z "$left" ] || fail "left after purge: $left"
  [ ! -e /etc/kipekee ] || fail "/etc/kipekee left after purge"
  [ -d /var/lib/private/kipekee ] || fail "purge deleted the data (the README says it keeps it)"

  step "a fresh install is neither enabled nor started; enable --now runs it on the kept data"
  apt_install "$kt/new.deb"
  ! systemctl is-active --quiet kipekee || fail "started on install"
  [ "$(systemctl is-enabled kipekee || true)" = disabled ] || fail "enabled on install: $(systemctl is-enabled kipekee)"
  grep -q "^DEFAULT_FROM_EMAIL='" /etc/kipekee/kipekee.env || fail "the shipped env file is not quoted"
  sh -c 'set -a; . /etc/kipekee/kipekee.env' || fail "sh cannot source the shipped env file"
  configure
  systemctl enable --now kipekee
  up
  [ "$(count)" = 4 ] || fail "the kept data after reinstall: $(count)"
  quote "after a reinstall"
  apt-get purge -y -q kipekee >"$kt/apt.log" 2>&1 || { cat "$kt/apt.log"; fail "apt purge"; }
  ! systemctl is-active --quiet kipekee || fail "still active after the second purge"

  step "the tarball's install.sh"
  mkdir -p "$kt/tar" && tar -xzf "$kt"/kipekee-*.tar.gz -C "$kt/tar"
  (cd "$kt"/tar/kipekee-* && ./install.sh)
  configure
  systemctl enable --now kipekee
  up
  [ "$(systemctl show -p FragmentPath --value kipekee)" = /etc/systemd/system/kipekee.service ] || fail "tarball unit path"
  quote "through the tarball's install"
  systemctl stop kipekee
  stopped_cleanly || fail "tarball install: stop"
  no_secret_in_journal
  echo "PHASE reboot PASSED"
  exit 0
fi
fail "unknown phase $phase"
