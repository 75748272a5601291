# syntax=docker/dockerfile:1
# natop's image: a static binary (musl) on distroless/static, run as a
# non-root user. Build from the repository root:
#
#   docker build -t ghcr.io/natop/natop:0.1.0 .
#
# The chart runs it with a read-only root filesystem: natop writes nothing to
# disk and needs no HOME.

FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The pinned toolchain first, so its musl target is the one added.
COPY rust-toolchain.toml ./
RUN rustup target add x86_64-unknown-linux-musl
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin natop \
 && cp target/x86_64-unknown-linux-musl/release/natop /natop

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /natop /natop
# distroless's nonroot user.
USER 65532:65532
ENTRYPOINT ["/natop"]
CMD ["run"]
