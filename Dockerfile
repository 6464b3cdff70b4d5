# syntax=docker/dockerfile:1
# Node 24, an LTS line (Node 20 is past its end of life). One ARG for both stages, so the build and the
# runtime always run the same Node; override with --build-arg NODE_IMAGE=node:22-bookworm-slim if needed.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: compile TypeScript with the dev toolchain, then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# The build copies the Lua scripts next to the compiled code (scripts/copy-assets.mjs).
COPY scripts/copy-assets.mjs ./scripts/
# `npm ci` runs the prepare script, which compiles src/ into dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: only the compiled code and production dependencies, as the unprivileged `node` user.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    CALLGATE_HOST=0.0.0.0 \
    CALLGATE_PORT=8080 \
    CALLGATE_JOURNAL=/var/lib/callgate/journal.jsonl \
    CALLGATE_AUDIT_DIR=/var/lib/callgate/audit
WORKDIR /app
# The only writable place: the intraday journal and the audit trail. Mount a volume here to keep them.
# 0700: the journal and the audit trail hold phone numbers.
RUN mkdir -p /var/lib/callgate && chown node:node /var/lib/callgate && chmod 0700 /var/lib/callgate
VOLUME ["/var/lib/callgate"]
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root bin ./bin
COPY --chown=root:root package.json ./
COPY --chown=root:root samples ./samples
COPY --chown=root:root dashboard ./dashboard
USER node
EXPOSE 8080
# Lists are mounted read-only, e.g. -v /srv/lists:/lists:ro and CALLGATE_LISTS=bloctel=/lists/bloctel.csv
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CALLGATE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/callgate.js"]
CMD ["serve"]
