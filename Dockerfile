# ngcp-backup: Node 20 on Debian bookworm, with the standard tools it streams through (zstd)
# and the ones break-glass needs (age, mariadb client). Built in two stages so that the image
# carries no compiler and no dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.product.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npx tsc -p tsconfig.product.json && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zstd age mariadb-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY policies ./policies
COPY restore ./restore
COPY contrib ./contrib
COPY docs ./docs
ENV NODE_ENV=production
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
