# The monitor daemon, with the read-only web page, JSON API, /healthz and /metrics on :8080.
#
#   docker build -t monitor .
#   docker run -d -v monitor-data:/app/data -p 127.0.0.1:8080:8080 monitor
#
# The SQLite file lives in the volume /app/data (config/monitor.toml: data/monitor.db, relative
# to /app). Mount your own config over /app/config, or point MONITOR_CONFIG elsewhere.
# `docker kill -s HUP` re-reads the config; `docker stop` (SIGTERM) finishes the articles in hand.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN python -m venv /venv \
 && /venv/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONITOR_CONFIG=/app/config/monitor.toml \
    MONITOR_LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --no-create-home monitor
COPY --from=build /venv /venv
WORKDIR /app
COPY config ./config
# The volume's mount point belongs to the monitor user, so a fresh named volume does too.
RUN mkdir data && chown monitor:monitor data
USER monitor
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
CMD ["monitor", "run", "--http", "0.0.0.0:8080"]
