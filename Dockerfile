# One image for the four control-plane binaries, as Dapr ships one image for its own: /operator, /injector, /sentry
# and /placement, built in release mode with the Swift runtime linked in (--static-swift-stdlib), on a small Debian
# base, running as the non-root user 65532. The chart names the binary to run in each Deployment's `command`.
#
#   scripts/build-image.sh            builds it (docker build) and prints its name
#   scripts/kind-install.sh           builds it, loads it into a kind cluster and installs the chart
#
# Images are named without a registry: Docker resolves `swift` and `debian` to their official images.

# --- build ---------------------------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
WORKDIR /src
# The manifest first, so the dependency checkout is cached while only sources change.
COPY Package.swift ./
RUN swift package resolve
COPY Sources Sources
COPY Tests Tests
COPY Benchmarks Benchmarks
RUN mkdir /out \
  && for binary in operator injector sentry placement; do \
       swift build -c release --static-swift-stdlib --product "$binary" \
       && cp "$(swift build -c release --show-bin-path)/$binary" "/out/$binary" || exit 1; \
     done \
  && strip /out/*

# --- run -----------------------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim
COPY --from=build /out/operator /out/injector /out/sentry /out/placement /
# Read-only root filesystem in the chart: nothing is written outside mounted volumes.
USER 65532:65532
EXPOSE 4000 6500 8080 9090 19443 50001 50005
ENTRYPOINT []
