FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Compile the proof-of-work kernel at build time so the first web request does not wait for it.
RUN python -m services.providers.deepseek_web.pow
ENV PORT=8000
EXPOSE 8000
CMD ["gunicorn", "wsgi:app"]
