# syntax=docker/dockerfile:1
# ffgate: one image for every process (gateway, worker, emulator); the command picks which.
#   docker build -t ffgate .
#   docker run --rm -p 8080:8080 -e FFGATE_REDIS_URL=... ffgate              # the gateway
#   docker run --rm -e FFGATE_REDIS_URL=... ffgate worker                     # a worker

# --- build: wheels for the package and every dependency (a compiler is here for any that has no wheel) ---
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY worker ./worker
COPY emulator ./emulator
COPY ffgate ./ffgate
COPY clients ./clients
RUN pip wheel --no-cache-dir --wheel-dir /wheels . './clients/python[webhooks]'

# --- runtime: the installed package only (no dev extras, no compiler), run as an unprivileged user ---------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels ffgate 'ffgate-client[webhooks]'
# /var/lib/ffgate/outputs: where docker-compose.yml mounts the shared output store; created here, owned by
# the image's user, so that a new named volume mounted there is writable by it.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/ffgate --shell /usr/sbin/nologin ffgate \
    && install -d -o ffgate -g ffgate -m 0750 /var/lib/ffgate /var/lib/ffgate/outputs
USER ffgate:ffgate
WORKDIR /home/ffgate
EXPOSE 8080
# The default command's port; a container running `worker` or `emulator` overrides or disables this.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["ffgate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
