# The myaas controller as a container. It drives the host's Docker engine and clones datadirs on the
# host's pool, so it needs the socket, the data dir (same path inside and out, because bind mounts of
# instance containers name host paths) and privileges for btrfs/chattr:
#   docker run -d --name myaas --privileged -p 5001:5001 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/myaas:/var/lib/myaas:rshared \
#     -e MYAAS_API_TOKENS=… -e MYAAS_PUBLIC_HOST=db.example.com myaas
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY controller ./controller
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends btrfs-progs xfsprogs e2fsprogs coreutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
COPY migrations ./migrations
ENV NODE_ENV=production
EXPOSE 5001
ENTRYPOINT ["node", "build/controller/cli.js"]
CMD ["serve"]
