# syntax=docker/dockerfile:1

# Build: cgo is on because the DuckDB store (duckdb-go) is a C++ library.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# VERSION ends up in "vigil version"; empty falls back to the module
# version, then "dev".
ARG VERSION=""
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vigil ./cmd/vigil

# Run: glibc and libstdc++ for the cgo build (DuckDB is C++), CA
# certificates for Kafka, ClickHouse and sinks over TLS, zone data.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libstdc++6 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
    && mkdir -p /var/lib/vigil /etc/vigil \
    && chown vigil:vigil /var/lib/vigil
COPY --from=build /out/vigil /usr/local/bin/vigil
USER vigil:vigil
WORKDIR /var/lib/vigil
# data_dir: the credential store, the quarantine, the sinks' dead letters,
# and with the built-in defaults the embedded event log and the DuckDB store.
VOLUME /var/lib/vigil
EXPOSE 8080
ENTRYPOINT ["vigil"]
CMD ["serve", "--config", "/etc/vigil/vigil.yaml"]
