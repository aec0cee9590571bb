# syntax=docker/dockerfile:1
# cheesecellar primary: uploads, users and indexes, the PyPI cache; replicas follow it.
# Build context: the repository root (docker-compose.yml sets it; by hand:
#   docker build -f contrib/docker/primary.dockerfile .
# from the repository root). primary.dockerfile.dockerignore limits what is sent.

# --- build: a wheel of this checkout and of every dependency -----------------------------
FROM python:3.11-slim AS build
# The index the build installs from; e.g. https://pypi.tuna.tsinghua.edu.cn/simple
ARG PIP_INDEX_URL=https://pypi.org/simple
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY plugins plugins
COPY web web
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels .

# --- the server image -------------------------------------------------------------------
FROM python:3.11-slim
ARG CELLAR_UID=10001
RUN groupadd --system --gid "$CELLAR_UID" cellar \
    && useradd --system --uid "$CELLAR_UID" --gid cellar --home-dir /data \
        --no-create-home --shell /usr/sbin/nologin cellar \
    && mkdir -p /data /run/cellar \
    && chown cellar:cellar /data /run/cellar \
    && chmod 700 /data /run/cellar
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --disable-pip-version-check --no-index \
        --find-links=/wheels cheesecellar
COPY --chmod=0755 contrib/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY --chmod=0755 contrib/docker/replica_entrypoint.sh /usr/local/bin/replica_entrypoint.sh
COPY --chmod=0644 contrib/docker/healthcheck.py /usr/local/lib/cellar-healthcheck.py

# The entrypoint starts as root to copy the mounted secret for the user `cellar`, then
# runs the server as that user.
ENV CELLAR_SERVERDIR=/data \
    CELLAR_PORT=3141 \
    CELLAR_USER=cellar \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 3141
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python3", "/usr/local/lib/cellar-healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
