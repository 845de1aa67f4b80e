# One Dockerfile, one target per service:
#   docker build --build-arg VERSION=... --target store|rpc|ingest|pub|lb|tools -t messageplane/mp-<target>:<tag> .
# (make images does this with the tag in the file VERSION and the binaries'
# version from git describe; .git is not part of the build context.)
# Base images are build arguments; deploy/local-base-images.sh builds local
# stand-ins from Debian's packages where no registry can be reached.
ARG BUILD_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# cgo over libzmq; the local base image has these baked in.
RUN if ! dpkg -s libzmq3-dev pkg-config >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends libzmq3-dev pkg-config && rm -rf /var/lib/apt/lists/*; fi
ARG GOPROXY=https://proxy.golang.org,direct
ENV GOPROXY=${GOPROXY} GOFLAGS=-buildvcs=false CGO_ENABLED=1 GOTOOLCHAIN=local
WORKDIR /src
# Module downloads first, so source edits do not invalidate this layer.
COPY go.work go.mod go.sum ./
COPY proto/go.mod proto/go.sum proto/
COPY client/go.mod client/go.sum client/
COPY services/store/go.mod services/store/go.sum services/store/
COPY services/rpc/go.mod services/rpc/go.sum services/rpc/
COPY services/ingest/go.mod services/ingest/go.sum services/ingest/
COPY services/pub/go.mod services/pub/go.sum services/pub/
COPY cmd/mp/go.mod cmd/mp/go.sum cmd/mp/
RUN go mod download
COPY . .
# What every binary reports (-version, mp_build_info).
ARG VERSION=dev
RUN mkdir /out && \
    ldflags="-s -w -X github.com/messageplane/mp/internal/buildinfo.Version=${VERSION}" && \
    for s in store rpc ingest pub; do go build -trimpath -ldflags="$ldflags" -o /out/mp-$s ./services/$s || exit 1; done && \
    go build -trimpath -ldflags="$ldflags" -o /out/ ./cmd/mpctl ./cmd/mplb ./cmd/mpbench

FROM ${RUNTIME_IMAGE} AS runtime
RUN if ! dpkg -s libzmq5 ca-certificates >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends libzmq5 ca-certificates && rm -rf /var/lib/apt/lists/*; fi
COPY --from=build /out/mpctl /usr/local/bin/mpctl
ARG VERSION=dev
LABEL org.opencontainers.image.version=${VERSION} org.opencontainers.image.licenses=Apache-2.0
# Containers log JSON and listen on every interface; ports stay the defaults.
ENV MP_LOG_FORMAT=json
USER 10001:10001

FROM runtime AS store
COPY --from=build /out/mp-store /usr/local/bin/mp-store
ENV MP_STORE_LISTEN=0.0.0.0:48920 MP_HTTP_ADDR=0.0.0.0:48930
EXPOSE 48920 48930
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["mpctl", "check", "http://127.0.0.1:48930/readyz"]
ENTRYPOINT ["/usr/local/bin/mp-store"]

FROM runtime AS rpc
COPY --from=build /out/mp-rpc /usr/local/bin/mp-rpc
ENV MP_RPC_ENDPOINT=tcp://0.0.0.0:48913 MP_HTTP_ADDR=0.0.0.0:48931 MP_STORE_ADDR=store:48920
EXPOSE 48913 48931
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["mpctl", "check", "http://127.0.0.1:48931/readyz"]
ENTRYPOINT ["/usr/local/bin/mp-rpc"]

FROM runtime AS pub
COPY --from=build /out/mp-pub /usr/local/bin/mp-pub
ENV MP_PUB_ENDPOINT=tcp://0.0.0.0:48914 MP_HTTP_ADDR=0.0.0.0:48932 MP_STORE_ADDR=store:48920
EXPOSE 48914 48932
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["mpctl", "check", "http://127.0.0.1:48932/readyz"]
ENTRYPOINT ["/usr/local/bin/mp-pub"]

FROM runtime AS ingest
COPY --from=build /out/mp-ingest /usr/local/bin/mp-ingest
ENV MP_INGEST_ENDPOINT=tcp://0.0.0.0:48915 MP_HTTP_ADDR=0.0.0.0:48933 MP_STORE_ADDR=store:48920
EXPOSE 48915 48933
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["mpctl", "check", "http://127.0.0.1:48933/readyz"]
ENTRYPOINT ["/usr/local/bin/mp-ingest"]

# lb: one address in front of scaled ingest replicas (docker compose); its
# admin listener (health check, metrics) stays on loopback.
FROM runtime AS lb
COPY --from=build /out/mplb /usr/local/bin/mplb
EXPOSE 48915
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["mpctl", "check", "http://127.0.0.1:48934/readyz"]
ENTRYPOINT ["/usr/local/bin/mplb"]

# tools: mpbench and mpctl, for running benchmarks inside the network.
FROM runtime AS tools
COPY --from=build /out/mpbench /usr/local/bin/mpbench
ENTRYPOINT ["/usr/local/bin/mpctl"]
