# Companion: one image for every replica. Build: docker build -t companion .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# aiortc/PyAV/Pillow ship wheels; nothing to compile. DejaVu draws the stream's slates
# (Pillow's own font otherwise).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY companion ./companion
COPY templates ./templates
COPY static ./static
RUN pip install -e . && useradd --system --home /data companion && mkdir -p /data && chown companion /data

USER companion
ENV COMPANION_HOST=0.0.0.0 COMPANION_DATA_DIR=/data
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os;urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('COMPANION_PORT','8000'), timeout=2)"
CMD ["companion", "serve"]
