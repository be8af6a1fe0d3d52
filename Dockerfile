FROM python:3.11-slim
# A user without privileges runs the gateway; the code stays root-owned, read-only to it.
RUN useradd --create-home --uid 10001 freeseek
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN python -m compileall -q /app
USER freeseek
ENV PORT=8000
EXPOSE 8000
# The image has no curl: ask /healthz with Python's standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"
# The Procfile's command.
CMD ["gunicorn", "wsgi:app"]
