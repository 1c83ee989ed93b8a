# conference-gateway container image.
#
#   docker build -t conference-gateway:0.1.0 .
#
# The official Rust image compiles a release binary of the gateway alone
# (`-p conference-gateway`, without the `sandbox` feature, so the image holds
# no simulated Telnyx and no generated-key code path, and with `otlp`, so
# spans are exported when OTEL_EXPORTER_OTLP_ENDPOINT is set). It then runs on
# distroless/cc (glibc, libgcc, CA certificates; no shell, no package manager)
# as the distroless "nonroot" user, uid/gid 65532. Both stages use the same
# Debian release so the binary finds the glibc it was linked against. No
# system protoc is needed: crates/api/build.rs compiles proto/ with protox.
#
# Dependencies are cached with cargo-chef: `prepare` reduces the workspace to
# a recipe of manifests, `cook` builds every dependency from it in a layer
# that is reused until a manifest or Cargo.lock changes. CI replays these
# stages on the exact build context (scripts/check-image).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie
ARG DISTROLESS_IMAGE=gcr.io/distroless/cc-debian13:nonroot

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /build

# 1. The recipe: the workspace's manifests, without the sources.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# 2. Dependencies only, cached until the recipe changes; then the gateway.
FROM chef AS build
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
        --package conference-gateway --no-default-features --features otlp
COPY . .
RUN cargo build --release --locked --package conference-gateway --no-default-features --features otlp \
    && install -D -m 0755 target/release/conference-gateway out/conference-gateway

FROM ${DISTROLESS_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="conference-gateway" \
      org.opencontainers.image.description="gRPC gateway to Telnyx conferences, queues, call control and their live event stream" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /build/out/conference-gateway /usr/local/bin/conference-gateway
# The distroless nonroot user, numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# gRPC (GATEWAY_GRPC_ADDR) and HTTP: webhooks, /healthz, /readyz, /metrics (GATEWAY_HTTP_ADDR).
EXPOSE 50051 8080
# Exec form: the gateway is PID 1 and receives SIGTERM itself, drains, exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/conference-gateway"]
