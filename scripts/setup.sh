#!/usr/bin/env bash
# Installs everything stagepush and its tests need on a fresh Debian 12 machine (run as root):
# Debian's rpm, rpmbuild, createrepo-c, dnf, gnupg, libmodulemd tools, xz-utils, bzip2 and zstd (a
# yum sync reads a feed's xz, bzip2 or zstd metadata with them), PyYAML (the YAML tests' oracle:
# pushsource reads staged metadata with its safe_load), then the npm packages
# (better-sqlite3 compiles from source; its install script is allowed in package.json).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for cmd in rpm rpmbuild rpmsign createrepo_c modifyrepo_c dnf gpg modulemd-validator openssl xz bzip2 zstd; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
# dnf repoclosure / repodiff (yum plugin tests) come with dnf-plugins-core.
dnf repoclosure --help >/dev/null 2>&1 || need+=(dnf-plugins-core)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rpm createrepo-c dnf dnf-plugins-core gnupg libmodulemd-tools openssl ca-certificates xz-utils bzip2 zstd python3-yaml >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# npm may skip install scripts it has not been told about: make sure the native module is built.
if ! node -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null; then
  npm rebuild better-sqlite3
fi
