"""Constrained beam search over the SID trie: engine → beam search → model runner."""
