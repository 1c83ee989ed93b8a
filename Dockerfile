# conference-gateway container image.
#
#   docker build -t conference-gateway:0.1.0 .
#
# Two stages: the official Rust image compiles a release binary, which then runs
# on distroless/cc (glibc, libgcc, CA certificates; no shell, no package
# manager) as the distroless "nonroot" user, uid/gid 65532. Both stages must use
# the same Debian release so the binary finds the glibc it was linked against.
# No system protoc is needed: build.rs compiles proto/ with protox (pure Rust).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie
ARG DISTROLESS_IMAGE=gcr.io/distroless/cc-debian13:nonroot

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
WORKDIR /build

# 1. Dependencies and generated code only, in a layer that is reused until
#    Cargo.toml, Cargo.lock, build.rs or proto/ change. Placeholder sources
#    stand in for src/ so cargo compiles every dependency (and runs build.rs).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# 2. The gateway itself. `touch` makes the real sources newer than the
#    placeholder's build, whatever timestamps the build context carries.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/conference-gateway /out/conference-gateway

FROM ${DISTROLESS_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="conference-gateway" \
      org.opencontainers.image.description="gRPC gateway to Telnyx conferences, queues, call control and their live event stream" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/conference-gateway /usr/local/bin/conference-gateway
# The distroless nonroot user, numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# gRPC (GATEWAY_GRPC_ADDR) and HTTP: webhooks, /healthz, /readyz, /metrics (GATEWAY_HTTP_ADDR).
EXPOSE 50051 8080
# Exec form: the gateway is PID 1 and receives SIGTERM itself, drains, exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/conference-gateway"]
