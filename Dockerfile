# syntax=docker/dockerfile:1
# The leadscore worker image: `docker build -t leadscore:0.1.0 .`
# Settings come from LEADSCORE_* environment variables (streams/settings.py).

# The base image, pinned to an exact Python patch release and Debian release; upgrading is
# a deliberate edit of this tag. Its digest is not pinned yet (it must come from the
# registry, not from memory). To pin it, take the `Digest:` line (the multi-platform index,
# valid for every architecture) of
#   docker buildx imagetools inspect python:3.11.17-slim-bookworm
# and append it here as python:3.11.17-slim-bookworm@sha256:<digest> (or pass it with
# --build-arg PYTHON_IMAGE=...).
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in their own layer: exactly the pinned runtime set of requirements.lock
# (`make lock`), so editing the code does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
# Then the project itself, without dependencies (all installed above); `pip check` fails the
# build if the lockfile misses one.
# README.md* : pyproject.toml names it as the readme; tolerate its absence.
COPY pyproject.toml README.md* ./
COPY streams ./streams
COPY schemas ./schemas
RUN pip install --no-deps . && pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEADSCORE_WEB_BIND=0.0.0.0 \
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
