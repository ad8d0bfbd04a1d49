"""Container health check: exit 0 when the local service's gRPC health service says SERVING.

Used by the images' HEALTHCHECK, by compose, and by the Kubernetes exec probes of the tls
component (Kubernetes' native gRPC probes speak plaintext only).
usage: python codeeval-healthcheck.py ADDRESS [SERVICE]   (SERVICE default: overall health)
Environment, as for every codeeval client: CODEEVAL_TLS_CA_FILE enables TLS,
CODEEVAL_TLS_CERT_FILE/CODEEVAL_TLS_KEY_FILE add a client certificate (mTLS), and
CODEEVAL_TLS_SERVER_NAME is the name to verify in the server certificate when ADDRESS is a
loopback address (for example sandbox.codeeval.svc); CODEEVAL_HEALTHCHECK_TIMEOUT is the RPC
deadline in seconds (default 3). The health service needs no bearer token.
Cost: one Python start-up and one RPC (~0.3 s CPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def open_health_channel(address: str) -> grpc.Channel:
    ca = os.environ.get("CODEEVAL_TLS_CA_FILE")
    if not ca:
        return grpc.insecure_channel(address)
    cert, key = os.environ.get("CODEEVAL_TLS_CERT_FILE"), os.environ.get("CODEEVAL_TLS_KEY_FILE")
    creds = grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes(),
        private_key=Path(key).read_bytes() if key else None,
        certificate_chain=Path(cert).read_bytes() if cert else None,
    )
    name = os.environ.get("CODEEVAL_TLS_SERVER_NAME")
    options = [("grpc.ssl_target_name_override", name)] if name else []
    return grpc.secure_channel(address, creds, options=options)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    address, service = argv[1], argv[2] if len(argv) > 2 else ""
    channel = open_health_channel(address)
    try:
        timeout = float(os.environ.get("CODEEVAL_HEALTHCHECK_TIMEOUT", "3"))
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                          timeout=timeout)
    except grpc.RpcError as exc:
        print(f"{address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        channel.close()
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
