"""Program text shared by the attack tests: how a probe inside the sandbox looks for leftovers."""

OTHER_UIDS = r'''
me = os.getuid()
others = set()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        uid = int(open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        continue
    if uid not in (0, me):
        others.add(uid)
'''
"""Sets ``others``: every uid but root's and the probe's own that owns a process in the container.
Needs ``import os`` before it. Besides root's processes (init, job server, zygote) and the probe's,
exactly one uid may own processes: the judge's. Any further uid is a leftover of an earlier job or
candidate (uids are not handed out in order, so every uid is checked)."""
