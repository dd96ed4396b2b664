# skewguard as a sidecar: the proxy in front of an upstream PostgreSQL.
#   docker build -t skewguard .
#   openssl rand -hex 32 > admin-token && chmod 644 admin-token
#   docker run -p 6432:6432 -p 127.0.0.1:9632:9632 \
#     -v "$PWD/admin-token:/run/secrets/admin_token:ro" \
#     -e SKEWGUARD_ADMIN_TOKEN_FILE=/run/secrets/admin_token \
#     -e SKEWGUARD_UPSTREAM='postgresql://app@db:5432/app' skewguard
# The admin port listens on every interface inside the container: without an admin
# token its changes (pin, unpin, retire, check) are refused. See docs/operations.md.
# State defaults to a SQLite file in /var/lib/skewguard (mount a volume to keep it),
# or set SKEWGUARD_STATE=postgresql://… to share it between proxies.
FROM python:3.11.10-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY proxy ./proxy
RUN pip install --no-cache-dir . \
 && mkdir -p /var/lib/skewguard && chown 65532:65532 /var/lib/skewguard
# Everything is configurable through SKEWGUARD_* variables (or flags after the image
# name): the entrypoint fixes nothing but the command.
ENV SKEWGUARD_STATE=/var/lib/skewguard/skewguard.db \
    SKEWGUARD_LISTEN=0.0.0.0:6432 \
    SKEWGUARD_ADMIN_LISTEN=0.0.0.0:9632
VOLUME /var/lib/skewguard
# A numeric, unprivileged user (Kubernetes runAsNonRoot checks the number).
USER 65532:65532
EXPOSE 6432 9632
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('SKEWGUARD_ADMIN_LISTEN', '0.0.0.0:9632').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
ENTRYPOINT ["skewguard", "run"]
