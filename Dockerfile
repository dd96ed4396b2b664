# skewguard as a sidecar: the proxy in front of an upstream PostgreSQL.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 6432 9632
ENTRYPOINT ["skewguard", "run", "--listen", "0.0.0.0:6432", "--admin-listen", "0.0.0.0:9632"]
