# A stack's proxy image: a world Caddy image with the stack's Caddyfile baked in.
ARG BASE
FROM ${BASE}
COPY Caddyfile /etc/caddy/Caddyfile
