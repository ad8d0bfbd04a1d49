"""codeeval trainer service: QLoRA, LoRA and full fine-tuning, single- and multi-task, as
resumable jobs. Core modules (config, readers, mixing, data, recipe, jobs) never import grpc;
``servicer`` translates messages and ``server`` is the bootstrap glue."""
