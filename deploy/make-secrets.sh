#!/usr/bin/env bash
# Create codeeval's secrets: a random bearer token and a private CA (EC P-256) with one certificate per
# service (serverAuth + clientAuth, SANs <svc>, <svc>.codeeval, <svc>.codeeval.svc,
# <svc>.codeeval.svc.cluster.local, localhost, 127.0.0.1), plus a client certificate for tools.
#
# usage: deploy/make-secrets.sh [OUTDIR]            (default deploy/.secrets; never committed)
#        deploy/make-secrets.sh OUTDIR --apply      also create the Kubernetes Secrets
#                                                   codeeval-auth and codeeval-tls in namespace codeeval
# The Kubernetes tls Secret holds ONE certificate for all services (SANs of all four) so every pod
# mounts the same Secret; with cert-manager, issue one per service instead and keep the key names
# tls.crt, tls.key, ca.crt. Idempotent: existing files are kept.
set -euo pipefail
OUT=${1:-$(dirname "$0")/.secrets}
APPLY=${2:-}
SERVICES=(sandbox analyzer generator trainer)
mkdir -p "$OUT" && chmod 700 "$OUT"
cd "$OUT"

[ -s token ] || { head -c 32 /dev/urandom | base64 | tr -d '=+/\n' > token; echo >> token; }

if [ ! -s ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 -subj "/CN=codeeval CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
fi
sans="DNS:localhost,IP:127.0.0.1"
for s in "${SERVICES[@]}"; do
  sans="$sans,DNS:$s,DNS:$s.codeeval,DNS:$s.codeeval.svc,DNS:$s.codeeval.svc.cluster.local"
done
if [ ! -s tls.crt ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=codeeval" -keyout tls.key -out tls.csr 2>/dev/null
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out tls.crt \
    -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$sans") 2>/dev/null
  rm -f tls.csr
fi
# Readable by group 10001 (the codeeval user in every image), so compose can bind-mount them.
chmod 600 ca.key
if chgrp 10001 token tls.key 2>/dev/null; then chmod 640 token tls.key
else chmod 600 token tls.key; echo "note: not root: token and tls.key stay 0600 (compose containers, uid 10001, cannot read them)"; fi
echo "secrets in $OUT: token, ca.crt, tls.crt, tls.key (ca.key: keep offline)"

if [ "$APPLY" = "--apply" ]; then
  kubectl create namespace codeeval --dry-run=client -o yaml | kubectl apply -f -
  kubectl -n codeeval create secret generic codeeval-auth --from-file=token=token \
    --dry-run=client -o yaml | kubectl apply -f -
  kubectl -n codeeval create secret generic codeeval-tls --from-file=tls.crt --from-file=tls.key \
    --from-file=ca.crt --dry-run=client -o yaml | kubectl apply -f -
fi
