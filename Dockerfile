# One image for web, worker, beat and the local anvil node of docker-compose.yml.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm libpq5 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --omit=optional --loglevel=error || npm install --no-audit --no-fund --loglevel=error
COPY . .
RUN mkdir -p static/vendor \
    && cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.js static/vendor/ \
    && DJANGO_SETTINGS_MODULE=flexplatform.settings.production DJANGO_SECRET_KEY=collectstatic-only \
       DJANGO_ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build:6379/0 \
       CHAIN_RPC_URL=http://build:8545 CHAIN_PRIVATE_KEY=0x0000000000000000000000000000000000000000000000000000000000000001 \
       python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "flexplatform.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
