# Build and run Switchboard. The image serves on 0.0.0.0:8080 and keeps data in /data.
FROM swift:6.2-noble AS build
WORKDIR /src
COPY Package.swift ./
RUN swift package resolve
COPY Sources Sources
COPY Benchmarks Benchmarks
COPY Tests Tests
RUN swift build -c release --product switchboard \
    && mkdir /staging && cp "$(swift build -c release --show-bin-path)/switchboard" /staging/

FROM ubuntu:noble
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libcurl4 libxml2 tzdata \
    && rm -rf /var/lib/apt/lists/* && useradd --system --create-home switchboard && mkdir /data && chown switchboard /data
WORKDIR /app
COPY --from=build /staging/switchboard /app/switchboard
COPY Migrations /app/Migrations
COPY frontend /app/frontend
COPY docs /app/docs
USER switchboard
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/app/switchboard"]
CMD ["serve"]
