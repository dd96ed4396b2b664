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
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN pip install --no-cache-dir . \
 && mkdir -p /var/lib/skewguard && chown nobody:nogroup /var/lib/skewguard
ENV SKEWGUARD_STATE=/var/lib/skewguard/skewguard.db
VOLUME /var/lib/skewguard
USER nobody
EXPOSE 6432 9632
STOPSIGNAL SIGTERM
ENTRYPOINT ["skewguard", "run", "--listen", "0.0.0.0:6432", "--admin-listen", "0.0.0.0:9632"]
