# syntax=docker/dockerfile:1
# One image for all five tickmesh services; the command picks the service:
#   docker build -t tickmesh:0.1.0 .
#   docker run --rm -p 50053:50053 tickmesh:0.1.0 python -m servers.bridge
# Configuration is only TICKMESH_* environment variables (see README "Configuration").

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the package and its dependencies into a self-contained venv ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tickmesh
WORKDIR /src
COPY pyproject.toml README.md ./
COPY generated/ generated/
COPY mesh/ mesh/
COPY servers/ servers/
COPY clients/ clients/
COPY console/ console/
COPY tickmesh_cli/ tickmesh_cli/
# A regular (not editable) install, byte-compiled now because the runtime filesystem
# may be read-only: the runtime stage copies the venv and never sees /src.
RUN /opt/tickmesh/bin/pip install .

# --- runtime: the venv and an unprivileged user, nothing else ----------------------------
FROM ${PYTHON_IMAGE}
# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN useradd --system --uid 10001 --user-group --no-log-init \
        --home-dir /var/lib/tickmesh --create-home --shell /usr/sbin/nologin tickmesh
COPY --from=build /opt/tickmesh /opt/tickmesh
# In a container the server must bind all interfaces (the default 127.0.0.1 is unreachable
# from other containers); the embedded stores, if used, write under the user's home.
ENV PATH=/opt/tickmesh/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKMESH_HOST=0.0.0.0 \
    TICKMESH_DATA_DIR=/var/lib/tickmesh
USER 10001:10001
WORKDIR /var/lib/tickmesh
EXPOSE 50051 50052 50053 50054 50055
# No HEALTHCHECK here: the port depends on the service the command picks. compose.yaml runs
# `python -m mesh.healthcheck <service>`; Kubernetes uses its native gRPC probes.
CMD ["python", "-m", "servers.hub"]
