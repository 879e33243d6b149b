# One image for every memvault process (migrate, api, relay, worker): built once by the
# compose file's `migrate` service and run by the others under the same tag.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md container.py ./
COPY memvault memvault
COPY domain domain
COPY application application
COPY adapters adapters
COPY entrypoints entrypoints
COPY alembic alembic
COPY clients/python clients/python
# A regular (non-editable) install: the migrations ship inside the package. The server
# backends the compose file uses are extras.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir ".[postgres,redis,qdrant,milvus,kafka,openai]" \
       ./clients/python

FROM python:3.11-slim
RUN groupadd --system --gid 10001 memvault \
    && useradd --system --uid 10001 --gid memvault --home-dir /app memvault \
    && mkdir -p /data /app && chown memvault:memvault /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MEMVAULT_HOST=0.0.0.0 \
    MEMVAULT_DATA_DIR=/data
USER memvault
VOLUME ["/data"]
EXPOSE 8000 9100
CMD ["memvault", "serve"]
