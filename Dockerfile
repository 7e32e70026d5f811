# One image, two binaries: the admission webhook and the kubectl plugin (for Jobs/CronJobs).
#   docker build -t ghcr.io/logbackup/kubectl-logbackup:v0.1.0 .
# Both are static musl binaries (ring needs only a C compiler, no OpenSSL), so the runtime image is
# distroless/static: no shell, no package manager, CA roots and /etc/passwd with uid 65532.

FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kubectl-logbackup -p logbackup-webhook \
 && install -D -m 0755 target/release/kubectl-logbackup /out/kubectl-logbackup \
 && install -D -m 0755 target/release/logbackup-webhook /out/logbackup-webhook

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/logbackup/kubectl-logbackup" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/logbackup-webhook /usr/local/bin/logbackup-webhook
COPY --from=build /out/kubectl-logbackup /usr/local/bin/kubectl-logbackup
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/logbackup-webhook"]
