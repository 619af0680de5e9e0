# syntax=docker/dockerfile:1

# One image holds vpnflow's three production programs; docker-compose.yml picks
# which one a service runs. Building them in one step shares the module and
# build caches. Nothing under internal/dev (stand-ins, local stack, test
# environment) is built or linked (internal/deploytest checks both).
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/worker ./worker && \
    go build -ldflags="-s -w" -o /out/bot ./bot && \
    go build -ldflags="-s -w" -o /out/starter ./starter

# Alpine rather than distroless: the compose health checks need wget.
FROM alpine:3.22 AS runtime
RUN apk add --no-cache ca-certificates tzdata && \
    adduser -D -H -u 10001 -s /sbin/nologin vpnflow
COPY --from=build /out/ /usr/local/bin/
# The worker ends revoked keys' open connections in xray's network namespace
# (XRAY_END_SESSIONS), which needs CAP_NET_ADMIN. Its binary carries it as a
# permitted file capability only ("=p", not "=ep"): when the container is
# granted it (cap_add in docker-compose.yml) the worker makes it effective
# itself (xray.EnableNetAdmin); when not, the worker still starts, unable to
# end sessions, and says so, where "=ep" would make exec fail.
RUN apk add --no-cache --virtual .setcap libcap-utils && \
    setcap cap_net_admin=p /usr/local/bin/worker && \
    apk del .setcap
USER 10001:10001
CMD ["worker"]
