"""Semantic-ID tokenizer: item/user features → residual codes → a versioned, GPU-ready store."""
