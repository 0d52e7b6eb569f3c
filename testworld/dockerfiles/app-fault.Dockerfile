# A sample-app image that fails in a chosen way: the app of BASE started by start.sh.
ARG BASE
FROM ${BASE}
# (not APP_VERSION: the base image's ENV would win over an ARG of the same name)
ARG FAULT_VERSION
ENV APP_VERSION=${FAULT_VERSION}
COPY start.sh /app/start.sh
CMD ["sh", "/app/start.sh"]
