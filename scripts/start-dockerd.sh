#!/usr/bin/env bash
# Start the Docker engine by hand (no systemd on this machine kind) and wait until it answers.
set -euo pipefail
if docker info >/dev/null 2>&1; then echo "docker engine: already running"; exit 0; fi
command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
mkdir -p /var/log
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "docker engine: started"; exit 0; }
  sleep 1
done
echo "dockerd did not come up; see /var/log/dockerd.log" >&2
exit 1
