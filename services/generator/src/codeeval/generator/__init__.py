"""codeeval generator service: one base model, LoRA adapters loaded at runtime and chosen per
request, behind one small engine interface (vLLM or transformers+PEFT)."""
