# A stack's HAProxy image: a world HAProxy image with the stack's haproxy.cfg baked in.
ARG BASE
FROM ${BASE}
COPY haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg
