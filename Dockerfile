# medianest-gate as a container image: the static binary (scripts/build-static),
# a CA bundle for TLS targets, and nothing else: no shell, no libc, no
# package manager. Build it with scripts/build-image, which assembles the
# context; there is no base image to pull.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY medianest-gate /usr/local/bin/medianest-gate
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Not root. To read the Docker socket, add its group at run time:
#   docker run --group-add "$(stat -c %g /var/run/docker.sock)" -v /var/run/docker.sock:/var/run/docker.sock ...
USER 65532:65532
ENTRYPOINT ["medianest-gate"]
CMD ["--help"]
