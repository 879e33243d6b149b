FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY container container
COPY domain domain
COPY application application
COPY adapters adapters
COPY entrypoints entrypoints
COPY alembic alembic
RUN pip install --no-cache-dir -e .
ENV MEMVAULT_HOST=0.0.0.0 MEMVAULT_DATA_DIR=/data
EXPOSE 8000
CMD ["memvault", "serve"]
