#!/usr/bin/env bash
# Installs what the real-server test harness (test/servers/*.ts) needs.
#
# Debian's vsftpd, proftpd-core and pure-ftpd conflict with each other (each
# "Provides/Conflicts: ftp-server"), so they are NOT installed: their .deb files
# are fetched with `apt-get download` into .servers/.cache/ and unpacked with
# `dpkg-deb -x` into .servers/<name>/. Their plain library dependencies, plus
# openssh-server, openssh-sftp-server and openssl, are installed normally.
#
# Idempotent: does nothing (no apt call) when everything is already present.
# Run as root on Debian 12: bash test/servers/install.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVERS="$ROOT/.servers"
CACHE="$SERVERS/.cache"

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root (it uses apt-get and creates test users later)" >&2
  exit 1
fi

# name in .servers/ -> packages unpacked into it
declare -A UNPACK=(
  [vsftpd]="vsftpd"
  [proftpd]="proftpd-core proftpd-mod-crypto"
  [pureftpd]="pure-ftpd"
)
# a file that proves the unpack is complete
declare -A MARKER=(
  [vsftpd]="usr/sbin/vsftpd"
  [proftpd]="usr/lib/proftpd/mod_tls.so"
  [pureftpd]="usr/bin/pure-pw"
)
# packages that must never be installed (they conflict with each other) and
# non-library dependencies we do not need for running the binaries unpacked
SKIP_DEPS_RE='^(vsftpd|proftpd-.*|pure-ftpd.*|debconf.*|adduser|lsb-base|netbase|procps|sysvinit-utils|ucf|perl|openbsd-inetd|inet-superserver|init-system-helpers)$'

# Always-installed packages for sshd / certificates.
BASE_PKGS=(openssh-server openssh-sftp-server openssh-client openssl)

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

apt_updated=0
# Runs `apt-get update` when the package lists are missing (fresh machine), or when forced
# (a download or install failed, e.g. on stale lists); at most once per run.
apt_update() {
  local force=${1:-}
  [ "$apt_updated" -eq 0 ] || return 0
  if [ -n "$force" ] || ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    apt-get update -q
    apt_updated=1
  fi
}

# Keep invoke-rc.d from starting services (a system sshd on port 22) while installing:
# a policy-rc.d that exits 101 means "action forbidden". An existing one is put back after.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  apt_update
  local policy=/usr/sbin/policy-rc.d backup=/usr/sbin/policy-rc.d.ferry-backup rc=0
  if [ -e "$policy" ]; then mv "$policy" "$backup"; fi
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  apt-get install -y -q --no-install-recommends "$@" ||
    { apt_update force && apt-get install -y -q --no-install-recommends "$@"; } || rc=$?
  rm -f "$policy"
  if [ -e "$backup" ]; then mv "$backup" "$policy"; fi
  return "$rc"
}

apt_download() { # into the current directory
  apt_update
  apt-get download -q "$1" 2>&1 | grep -v 'unsandboxed as root' || true
  if ! compgen -G "./${1}_*.deb" >/dev/null; then
    apt_update force
    apt-get download -q "$1" 2>&1 | grep -v 'unsandboxed as root' || true
  fi
  compgen -G "./${1}_*.deb" >/dev/null || {
    echo "install.sh: apt-get download $1 failed" >&2
    return 1
  }
}

# ---- 1. sshd, sftp-server, openssl ----------------------------------------
missing=()
for p in "${BASE_PKGS[@]}"; do is_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  apt_install "${missing[@]}"
  # On systemd machines the unit may have been enabled; we never use port 22.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi
mkdir -p /run/sshd
chmod 755 /run/sshd

# ---- 2. FTP servers, downloaded and unpacked --------------------------------
mkdir -p "$CACHE"
for name in vsftpd proftpd pureftpd; do
  dest="$SERVERS/$name"
  pkgs=${UNPACK[$name]}
  if [ ! -e "$dest/${MARKER[$name]}" ]; then
    echo "install.sh: unpacking $pkgs into .servers/$name"
    for pkg in $pkgs; do
      if ! compgen -G "$CACHE/${pkg}_*.deb" >/dev/null; then
        # as root, apt-get download warns that _apt cannot write here: harmless
        (cd "$CACHE" && apt_download "$pkg")
      fi
    done
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    for pkg in $pkgs; do
      deb=$(ls -1 "$CACHE/${pkg}"_*.deb | sort -V | tail -n 1)
      dpkg-deb -x "$deb" "$dest.tmp"
    done
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
  fi
done

# ---- 3. library dependencies of the unpacked servers ------------------------
# Read the Depends of each cached .deb, keep the first alternative of each
# entry, drop the conflicting/non-library ones, install what is missing.
libdeps=()
for name in vsftpd proftpd pureftpd; do
  for pkg in ${UNPACK[$name]}; do
    deb=$(ls -1 "$CACHE/${pkg}"_*.deb | sort -V | tail -n 1)
    while IFS= read -r dep; do
      [ -n "$dep" ] || continue
      if [[ ! "$dep" =~ $SKIP_DEPS_RE ]]; then libdeps+=("$dep"); fi
    done < <(dpkg-deb -f "$deb" Depends Pre-Depends |
      sed -e 's/^[A-Za-z-]*: //' | tr ',' '\n' |
      sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g')
  done
done
# PAM modules for the vsftpd PAM service file written by the harness.
libdeps+=(libpam-modules libpam-runtime)
missing=()
for p in $(printf '%s\n' "${libdeps[@]}" | sort -u); do
  is_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing libraries ${missing[*]}"
  apt_install "${missing[@]}"
fi

# ---- 4. sanity check: every unpacked binary resolves its libraries ----------
for bin in "$SERVERS/vsftpd/usr/sbin/vsftpd" "$SERVERS/proftpd/usr/sbin/proftpd" \
  "$SERVERS/proftpd/usr/lib/proftpd/mod_tls.so" "$SERVERS/pureftpd/usr/sbin/pure-ftpd" \
  "$SERVERS/pureftpd/usr/bin/pure-pw"; do
  if ldd "$bin" 2>/dev/null | grep -q 'not found'; then
    echo "install.sh: $bin has unresolved libraries:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
  fi
done

echo "install.sh: ready (.servers/vsftpd, .servers/proftpd, .servers/pureftpd, $(command -v sshd || echo /usr/sbin/sshd))"
