# Like the official `haproxy` image (Debian variant): haproxy with bash and perl-base only
# (no curl, wget, socat, nc or python), config in /usr/local/etc/haproxy, runs as `haproxy`.
FROM local/haproxy:2.6
RUN apt-get purge -y --auto-remove curl python3 python3-minimal \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && chown haproxy:haproxy /usr/local/etc/haproxy
USER haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
