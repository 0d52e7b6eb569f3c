# A sample-app image that fails in a chosen way: the app of BASE started by start.sh.
ARG BASE
FROM ${BASE}
ARG APP_VERSION
ENV APP_VERSION=${APP_VERSION}
COPY start.sh /app/start.sh
CMD ["sh", "/app/start.sh"]
