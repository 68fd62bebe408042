# syntax=docker/dockerfile:1
# Multi-stage build: compile (and build better-sqlite3's native addon) in a full toolchain
# image, run the compiled service as a non-root user in a slim one.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CONFIG_PATH=/etc/llm-incident-manager/config.toml \
    LLM_IM__STORAGE__SQLITE_PATH=/var/lib/llm-incident-manager/incidents.db
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The gRPC contract, read at startup (dist/grpc resolves ../../proto).
COPY --chown=root:root proto ./proto
COPY --chown=node:node config/default.toml /etc/llm-incident-manager/config.toml
RUN mkdir -p /var/lib/llm-incident-manager && chown node:node /var/lib/llm-incident-manager
# Config (mount your own config.toml here) and the SQLite data folder.
VOLUME ["/etc/llm-incident-manager", "/var/lib/llm-incident-manager"]
USER node
# 8080: REST, Swagger UI at /docs; 9000: gRPC.
EXPOSE 8080 9000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:8080/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
