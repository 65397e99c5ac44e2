# The myaas controller as a container. It drives the host's Docker engine and clones datadirs on the
# host's pool, so it runs on the host's network (it probes instances at 127.0.0.1:<published port>,
# which must be the host), with the Docker socket, and with the data and dumps dirs bind-mounted at the
# same paths inside and out (instance and import containers' bind mounts name host paths).
# SYS_ADMIN lets it delete btrfs subvolumes and limit their size, LINUX_IMMUTABLE lets it seal
# XFS/reflink templates with chattr +i, NET_ADMIN lets it add the instances' firewall rules; nothing else
# beyond Docker's defaults is needed (no --privileged, no rshared):
#
#   docker build -t myaas .
#   docker run -d --name myaas --restart unless-stopped --network host \
#     --cap-add SYS_ADMIN --cap-add LINUX_IMMUTABLE --cap-add NET_ADMIN \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/myaas:/var/lib/myaas \
#     -e MYAAS_API_TOKENS=… -e MYAAS_PUBLIC_HOST=db.example.com myaas
#
# deploy/compose.yaml does the same with docker-compose; scripts/build-image.sh builds without a registry.
#   --build-arg BASE=…  the Node.js base image (default node:24-bookworm-slim). Without a registry,
#                       scripts/setup-host.sh builds myaas-local/node:24 locally (Debian + Node 24).
#   npm-ca.pem          optional, in the build context (git ignores it): certificates `npm ci` must trust,
#                       e.g. behind a TLS-intercepting proxy. Only the build stage sees it; the final image
#                       is made from a stage that never did. A file rather than a build argument because a
#                       whole CA bundle (~220 KB) is over the 128 KiB a single argument may have, and
#                       rather than a BuildKit secret because the classic builder has no secrets.
ARG BASE=node:24-bookworm-slim

FROM ${BASE} AS build
WORKDIR /app
# The [m] makes npm-ca.pem optional: a pattern that matches nothing copies nothing.
COPY package.json package-lock.json npm-ca.pe[m] ./
# --ignore-scripts: nothing the controller needs is native (PGlite is WebAssembly; ssh2 falls back
# to JavaScript), so the build needs no compiler and runs no package's install code.
RUN if [ -s npm-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/app/npm-ca.pem; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -f npm-ca.pem
COPY tsconfig.json tsconfig.build.json ./
COPY controller ./controller
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

FROM ${BASE}
# btrfs (the btrfs driver; 6.7+ for simple quotas), chattr (sealing for reflink/copy), iptables (the
# instances' firewall rules) and openssl (their TLS certificate); cp comes with coreutils. The local base
# has them already; an official node image gets them from Debian (btrfs-progs from its backports).
RUN if ! command -v btrfs >/dev/null || ! command -v chattr >/dev/null || ! command -v iptables >/dev/null || ! command -v openssl >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends btrfs-progs e2fsprogs iptables openssl \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
COPY migrations ./migrations
COPY bin ./bin
RUN ln -s /app/bin/myaas.mjs /usr/local/bin/myaas
ENV NODE_ENV=production
EXPOSE 5001
ENTRYPOINT ["node", "/app/bin/myaas.mjs"]
CMD ["serve"]
