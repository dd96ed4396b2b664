# skewguard as a sidecar: the proxy in front of an upstream PostgreSQL.
#   docker build -t skewguard .
#   docker run -p 6432:6432 -p 9632:9632 \
#     -e SKEWGUARD_UPSTREAM='postgresql://app@db:5432/app' skewguard
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
