# Production image: web, worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY . .
RUN pip install --no-cache-dir -c requirements.lock . \
    && SCRM_ENV=test python manage.py compilemessages \
    && SCRM_ENV=test python manage.py collectstatic --noinput
RUN useradd --system scrm
USER scrm
EXPOSE 8000
CMD ["gunicorn", "scrm.wsgi", "-b", "0.0.0.0:8000", "-w", "4"]
