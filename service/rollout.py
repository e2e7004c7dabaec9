"""Following Triton onto a newly exported version without mixing catalogues: every
`every_s` the watcher asks which version Triton serves newest; a new one has its catalogue
read off the request path (in a thread) and only then swapped in, in one assignment. Requests
already running keep the catalogue they started with, and every request asks Triton for that
catalogue's version by number, so indices sent and ids returned always belong together."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from service.catalog import Catalog, CatalogError
from service.decoder import TritonDecoder
from service.recommender import Recommender

log = logging.getLogger("genrec.gateway")


async def initial_catalog(model_dir: Path, decoder: TritonDecoder) -> Catalog:
    """The catalogue of the version Triton serves; when this folder lacks it (or Triton is not
    up yet), the folder's newest, whose pinned requests degrade to fallback pages until Triton
    and the folder agree."""
    served = await decoder.served_version()
    try:
        return Catalog.load(model_dir, served)
    except CatalogError as e:
        if served is None:
            raise
        log.warning("%s; starting on this folder's newest version instead", e)
        return Catalog.load(model_dir)


class CatalogWatcher:
    def __init__(self, recommender: Recommender, decoder: TritonDecoder, model_dir: Path,
                 every_s: float):  # fmt: skip
        self.recommender, self.decoder = recommender, decoder
        self.model_dir, self.every_s = model_dir, every_s
        self._unreadable: set[str] = set()  # versions already warned about

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.refresh()
            except Exception:  # a bad poll must not end the watching
                log.exception("catalogue refresh failed")

    async def refresh(self) -> bool:
        """→ whether it switched."""
        served = await self.decoder.served_version()
        if served is None or served == self.recommender.catalog.version:
            return False
        if served in self._unreadable:
            return False
        try:
            catalog = await asyncio.to_thread(Catalog.load, self.model_dir, served)
        except CatalogError as e:
            self._unreadable.add(served)
            log.warning("Triton serves version %s but %s; staying on %s", served, e,
                        self.recommender.catalog.version)  # fmt: skip
            return False
        previous, self.recommender.catalog = self.recommender.catalog.version, catalog
        log.info("switched from version %s to %s (store %s)", previous, catalog.version,
                 catalog.store_version)  # fmt: skip
        return True
