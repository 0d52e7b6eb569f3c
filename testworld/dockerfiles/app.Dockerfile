# The sample web app: stdlib Python on the world's Debian base (curl for health checks).
FROM local/debian:bookworm
COPY app.py /app/app.py
ARG APP_VERSION=dev
ARG APP_HEALTHY=1
ENV APP_VERSION=${APP_VERSION} APP_HEALTHY=${APP_HEALTHY} PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python3", "/app/app.py"]
