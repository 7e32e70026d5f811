# The image the Deployment and the CronJob run: both binaries, static (no libc in the image), CA
# roots, and /etc/passwd naming uid 65532. Build it with scripts/build-image.sh, which compiles the
# binaries, lays out the build context (image-root/) this file copies, builds with buildah (or
# `docker build` if you set BUILDER=docker) and smoke-runs the result. This is the only stage:
# what CI builds and runs is what ships.
FROM scratch
LABEL org.opencontainers.image.source="https://github.com/logbackup/kubectl-logbackup" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY image-root/ /
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/logbackup-webhook"]
