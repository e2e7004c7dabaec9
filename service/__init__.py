"""The genrec gateway: FastAPI in front of Redis (histories, page chains, events) and the
Triton-hosted decoder. It never imports torch, so its image stays a light CPU one."""
