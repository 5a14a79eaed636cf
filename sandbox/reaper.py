"""Remove sandbox containers left behind by crashed runs on this host."""

from __future__ import annotations

import logging
import os
import socket

from .transport import LABEL, OWNER_LABEL

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_strays(client, *, everything: bool = False) -> list[str]:
    """Remove labelled containers whose owning process (on this host) is gone.

    ``everything=True`` removes every sppo-gym sandbox container, whoever owns it.
    Returns the ids removed.
    """
    host = socket.gethostname()
    removed = []
    try:  # one API call (no per-container inspect that could race with auto-removal)
        containers = client.api.containers(all=True, filters={"label": LABEL})
    except Exception as e:  # engine down: nothing to reap now
        log.warning("reaper could not list containers: %s", e)
        return removed
    for c in containers:
        owner = (c.get("Labels") or {}).get(OWNER_LABEL, "")
        owner_host, _, pid = owner.rpartition(":")
        stray = everything or (owner_host == host and pid.isdigit() and not _alive(int(pid)))
        if stray:
            try:
                client.api.remove_container(c["Id"], force=True)
                removed.append(c["Id"])
            except Exception as e:  # already gone (auto-removed) or engine trouble
                log.debug("reaper could not remove %s: %s", c["Id"][:12], e)
    return removed
