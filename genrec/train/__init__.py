"""Decoder training: next-item prediction over semantic-ID tokens."""
