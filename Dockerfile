# syntax=docker/dockerfile:1
# The leadscore worker image: `docker build -t leadscore:0.1.0 .`
# Settings come from LEADSCORE_* environment variables (streams/settings.py).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# README.md* : pyproject.toml names it as the readme; tolerate its absence.
COPY pyproject.toml README.md* ./
COPY streams ./streams
COPY schemas ./schemas
RUN pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEADSCORE_WEB_HOST=0.0.0.0 \
    LEADSCORE_WEB_PORT=6066 \
    LEADSCORE_DATA_DIR=/var/lib/leadscore
RUN groupadd --system --gid 10001 leadscore \
 && useradd --system --uid 10001 --gid leadscore --no-create-home \
      --home-dir /var/lib/leadscore --shell /usr/sbin/nologin leadscore \
 && mkdir -p /var/lib/leadscore \
 && chown leadscore:leadscore /var/lib/leadscore
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /var/lib/leadscore
EXPOSE 6066
# /healthz answers 200 while the process is alive (readiness is /readyz, used by compose/k8s).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LEADSCORE_WEB_PORT', '6066'), timeout=4)"]
CMD ["leadscore", "worker"]
