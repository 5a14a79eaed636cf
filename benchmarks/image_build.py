"""Time a from-scratch build of the sandbox image, phase by phase, then a cached rebuild.

    python benchmarks/image_build.py

From scratch means: an empty wheel cache (a temporary SPPO_GYM_CACHE), the local Debian base
untagged so it is bootstrapped again (pulled, or mmdebstrap + docker import without a registry),
and ``docker build --no-cache``. Images already built keep their layers (untagging only), so
running containers are not disturbed. What a fresh machine pays once; the cached rebuild is what
re-running setup costs.
"""

from __future__ import annotations

import os
import tempfile
import time

from sppo_gym.sandbox import image


def main() -> None:
    os.environ["SPPO_GYM_CACHE"] = tempfile.mkdtemp(prefix="sppo-gym-bench-cache-")  # read by image.cache_dir()

    client = image.get_client()
    if image.image_exists(client, image.BASE_IMAGE):
        client.images.remove(image.BASE_IMAGE)  # untag: layers stay while images use them
    t0 = time.perf_counter()
    image.ensure_base(client)
    t1 = time.perf_counter()
    image.download_wheels(image._engine_arch(client))
    t2 = time.perf_counter()
    tag = image.build_image(client, no_cache=True, quiet=True)
    t3 = time.perf_counter()
    image.build_image(client, quiet=True)
    t4 = time.perf_counter()
    size_mb = client.images.get(tag).attrs["Size"] / 2**20
    print(f"{tag}: {size_mb:.0f} MiB")
    print(f"base bootstrap  {t1 - t0:7.1f} s")
    print(f"wheel download  {t2 - t1:7.1f} s")
    print(f"docker build    {t3 - t2:7.1f} s  (--no-cache)")
    print(f"total           {t3 - t0:7.1f} s")
    print(f"cached rebuild  {t4 - t3:7.1f} s  (every layer from cache)")


if __name__ == "__main__":
    main()
