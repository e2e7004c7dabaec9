"""Preference alignment after SFT: progressive Softmax-DPO (Align3GR), and group policy
optimisation with GRPO-SR (GenRec), GBPO (OneRec-V2) and SAGE as switches of one objective."""
