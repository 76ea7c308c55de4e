# featwright: the same hashed lock files and commands as `make run` and deploy/cluster.sh.
#   docker build -t featwright .
#   docker run --rm -e DATABASE_URL=... -e SECRET_KEY=... featwright featwright db upgrade
#   docker run -p 8000:8000 -e DATABASE_URL=... -e SECRET_KEY=... featwright
FROM python:3.11-slim AS build
WORKDIR /app
ENV UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
COPY requirements-uv.lock requirements.lock pyproject.toml ./
RUN python -m venv /opt/uv \
 && /opt/uv/bin/pip install --quiet --no-deps --require-hashes -r requirements-uv.lock \
 && /opt/uv/bin/uv venv --quiet --python python3 /app/.venv \
 && /opt/uv/bin/uv pip sync --quiet --python /app/.venv/bin/python --require-hashes requirements.lock
COPY alembic.ini ./
COPY migrations ./migrations
COPY src ./src
COPY docs/features ./docs/features
# Editable, as `make install` does: alembic.ini, migrations/ and the design docs (the OpenAPI
# description lists the features from their titles) are found next to src/.
RUN /opt/uv/bin/uv pip install --quiet --python /app/.venv/bin/python --no-deps \
      --no-build-isolation -e . \
 && find /app -name __pycache__ -prune -exec rm -rf {} +

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app featwright
COPY --from=build --chown=root:root /app /app
WORKDIR /app
USER featwright
ENV PATH=/app/.venv/bin:$PATH HOST=0.0.0.0 PORT=8000 LOG_FORMAT=json ENVIRONMENT=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
CMD ["featwright", "serve"]
