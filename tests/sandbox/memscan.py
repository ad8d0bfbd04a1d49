"""Source text of a memory scan that a sandboxed program includes (tests of fresh runs and of the
zygote's red team): it looks for sha256 digests, never the text itself, so the scanning program
holds no copy of what it looks for."""

SCAN_MEMORY = '''
def scan_memory(prefix, digests, length, pids=("self",)):
    """How often each sha256 in digests matches the length bytes at an occurrence of prefix, over
    every readable mapping of the processes pids (/proc names: "self", "1", ...)."""
    import hashlib
    counts = [0] * len(digests)
    for pid in pids:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
            for line in maps:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                if "r" not in line.split()[1] or "[vvar" in line or hi - lo > 1 << 28:
                    continue
                try:
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                except (OSError, ValueError, OverflowError):
                    continue
                at = data.find(prefix.encode())
                while at >= 0:
                    digest = hashlib.sha256(data[at:at + length]).hexdigest()
                    if digest in digests:
                        counts[digests.index(digest)] += 1
                    at = data.find(prefix.encode(), at + 1)
    return counts
'''
