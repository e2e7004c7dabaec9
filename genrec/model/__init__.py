"""The generative decoder: a Qwen2-architecture causal LM over semantic-ID tokens."""
