"""Generated gRPC stubs for codeeval's protos. Do not edit: run tools/gen_proto.py."""
