# syntax=docker/dockerfile:1
# Multi-stage build: compile the service and the console (and the native addons of better-sqlite3
# and re2) in a stage with a toolchain, run the result as a non-root user in a slim one.
# Node.js 24 is the current LTS; package.json's "engines" says which versions are supported.
# scripts/image-check.sh builds this file unchanged and runs the image's file system in CI.

FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY proto ./proto
COPY src ./src
COPY console ./console
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 # What only the addons' compilers needed: object files and vendored sources (about 100 MB).
 && find node_modules -type d \( -path '*/build/Release/obj.target' -o -path '*/build/Release/.deps' -o -path '*/build/deps' \) -prune -exec rm -rf {} + \
 && rm -rf node_modules/re2/vendor node_modules/better-sqlite3/deps node_modules/better-sqlite3/src

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CONFIG_PATH=/etc/llm-incident-manager/config.toml \
    LLM_IM__STORAGE__SQLITE_PATH=/var/lib/llm-incident-manager/incidents.db
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/console/dist ./console/dist
COPY --chown=root:root package.json ./
# The gRPC contract, read at startup (dist/grpc resolves ../../proto).
COPY --chown=root:root proto ./proto
COPY --chown=root:root config/default.toml /etc/llm-incident-manager/config.toml
RUN mkdir -p /var/lib/llm-incident-manager && chown node:node /var/lib/llm-incident-manager
# The SQLite data folder. The configuration is a file, not a volume, so a new image's default
# reaches a container recreated from it: mount your own over /etc/llm-incident-manager/config.toml.
VOLUME ["/var/lib/llm-incident-manager"]
USER node
# 8080: REST, Swagger UI at /docs, the console at /; 9000: gRPC.
EXPOSE 8080 9000
# Reads the same configuration as the service: its port, and HTTPS when TLS is on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/health/healthcheck.js"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
