# comfycord: a slim image running as a non-root user; state lives in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/data \
    WORKFLOWS_DIR=/app/workflows

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-compile . \
    && useradd --create-home --uid 10001 comfycord \
    && mkdir -p /data && chown comfycord:comfycord /data
# Owned by the bot's user: owners add and edit templates from Discord, written into this folder.
COPY --chown=10001:10001 workflows ./workflows

USER comfycord
VOLUME ["/data"]
# Secrets (DISCORD_TOKEN, COMFYUI_AUTH_*) come from the environment at run time, never from the image.
CMD ["python", "-m", "bot"]
