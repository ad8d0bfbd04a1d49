"""The Java judge's runtime image: a ``jlink`` image of java.se plus the judge as a system module.

Why: a JVM started with ``--module-path judge.jar --add-modules java.se -m codeeval.judge/...``
resolves its module graph at each start and loads the judge's classes from a jar. In a jlink'ed
image the judge is a system module; as it exports one (empty) package it is a default root of a
class-path launch, so runs start it as ``java -cp ... codeeval.judge.CodeevalLauncher`` (no ``-m``,
no ``--add-modules``) and the image's own CDS archive gives them its archived boot layer (the full
module graph), archived heap objects (G1 only on JDK 17: hence runs use G1) and the judge's classes
mapped instead of loaded and linked. That archive is dumped again after jlink, with G1 and the
runs' main heap size, from the classes a trusted warm-up run of the judge loaded (the policy, the
security manager, the launcher, the lambda forms they spin, the JDK classes of a HumanEval-X-shaped
test); not from the image's default class list too, as the archive is relocated at each start
(ASLR), at a cost that grows with its size. Classes from the class path (JUnit, the candidate's, the
test's) are never archived (a static archive takes no directory entries, and they are not trusted).
Measured on a 2-core machine (``bench/sandbox/java_batch.py --flags``): ``-m`` and the serial
collector each cost ~5 ms more CPU of the ~45 ms the judge's JVM takes. The image holds java.se and
the few service providers the JDK's boot layer binds for it (locale data, charsets, EC crypto, random
generators, zipfs), and nothing else: no jdk.unsupported (no ``sun.misc.Unsafe``), no jdk.attach,
jdk.management, jdk.compiler or jdk.jfr (the JDK's own boot layer for ``--add-modules java.se`` binds
those too, as service providers).

The image's security properties file (``conf/security/java.security``, ~70 KB, 1,600 lines, nearly all
comments) is written back without its comment and blank lines: every run parses it, in the
interpreter, at the Security Manager's first permission check (``java.security.Security``'s class
initialiser); ~4 ms of the judge's ~40 ms of CPU on the host (median of 40 interleaved runs), for the
same properties (``strip_comments``).

Trust: built by the service itself (a trusted process; nothing of a candidate runs), owned by the
service (root when root), dirs 0755 and files 0644 (0755 for executables), bound read-only. Cost:
jlink and the dump ~15 s of CPU, ~140 MB; so a built image is kept in a cache directory
(``cache_root``, the service's own, refused when another uid owns it or it is group/world-writable)
under a key of the JDK's version and the judge's sources, and a service start hard-links it into its
launcher directory (a copy when the cache is on another file system): ~0.1 s.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: Modules beside the judge (which requires java.se): the providers the JDK binds for java.se.
EXTRA_MODULES = ("jdk.localedata", "jdk.charsets", "jdk.crypto.ec", "jdk.random", "jdk.zipfs")
JLINK_OPTIONS = ("--no-man-pages", "--no-header-files", "--generate-cds-archive")
#: Bumped when the way the image is built changes (part of the cache key).
IMAGE_FORMAT = "5"
#: The image's security properties, relative to the image (read by every run, see strip_comments).
SECURITY_PROPERTIES = Path("conf") / "security" / "java.security"
#: The collector of every judge run and of the archive's dump: G1, the one JDK 17 maps archived heap
#: objects (and so the archived module graph) into; one worker of each kind, so that the thread count
#: does not grow with the host's cores (threads count against the run's process limit).
GC_FLAGS = ("-XX:+UseG1GC", "-XX:ParallelGCThreads=1", "-XX:ConcGCThreads=1")
#: The heap size the archive is dumped with: the runs' default (half of the default 512 MiB limit), so
#: that their archived heap objects need no relocation; other sizes relocate them (~0.5 ms).
DUMP_HEAP = "-Xmx256m"
#: The judge's main class, started from the class path (the module is a default root of the image).
LAUNCHER_CLASS = "codeeval.judge.CodeevalLauncher"
#: The trusted warm-up the judge runs once at build time, so its class list can be archived.
WARMUP = ("public class Warmup { public static void main(String[] a) { java.util.List<Integer> l = "
          "new java.util.ArrayList<>(java.util.Arrays.asList(3, 1, 2)); java.util.Collections.sort(l); "
          "if (!l.equals(java.util.Arrays.asList(1, 2, 3)) || !(\"n\" + l.size()).equals(\"n3\")) "
          "{ throw new AssertionError(); } } }\n")


def cache_root() -> Path:
    """Root: /var/cache/codeeval-sandbox; otherwise $XDG_CACHE_HOME (or ~/.cache)/codeeval-sandbox."""
    if os.geteuid() == 0:
        return Path("/var/cache/codeeval-sandbox")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codeeval-sandbox"


def image_key(judge_sources: Iterable[Path]) -> str:
    """The JDK's version and build, the judge's sources and the build options, hashed."""
    h = hashlib.sha256(IMAGE_FORMAT.encode())
    version = subprocess.run(["java", "-XshowSettings:properties", "-version"], capture_output=True, text=True,
                             timeout=60).stderr
    h.update("\n".join(line for line in version.splitlines()
                       if "java.home" in line or "java.vm.version" in line or "java.runtime.version" in line).encode())
    for src in judge_sources:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    h.update(" ".join([*EXTRA_MODULES, *JLINK_OPTIONS]).encode())
    return h.hexdigest()[:24]


def build(judge_jar: Path, output: Path) -> None:
    """jlink the image into ``output`` (which must not exist) and dump its CDS archive with the
    judge's classes. Raises CalledProcessError on failure."""
    subprocess.run(["jlink", "--module-path", str(judge_jar), "--add-modules",
                    ",".join(["codeeval.judge", *EXTRA_MODULES]), *JLINK_OPTIONS, "--output", str(output)],
                   check=True, capture_output=True, timeout=600)
    security = output / SECURITY_PROPERTIES
    if security.is_file():
        security.write_text(strip_comments(security.read_text(encoding="utf-8")), encoding="utf-8")
    archive_judge_classes(output)
    seal(output)


def strip_comments(text: str) -> str:
    """``text``, a ``java.util.Properties`` file, without its comment lines (first non-blank character
    ``#`` or ``!``) and blank lines: the same properties, as ``Properties.load`` reads them. A line that
    continues a value (the previous one ends in an odd number of backslashes) is kept whatever it
    holds, as it is part of that value. Linear in the text's size."""
    kept: list[str] = []
    continued = False
    for line in re.split(r"\r\n|\r|\n", text):  # Properties' line ends (not splitlines': \f is a blank)
        body = line.lstrip(" \t\f")
        if continued or (body and body[0] not in "#!"):
            kept.append(line)
            continued = (len(line) - len(line.rstrip("\\"))) % 2 == 1
    return "".join(f"{line}\n" for line in kept)


def archive_judge_classes(image: Path) -> None:
    """Re-dump ``image``'s default CDS archive from the class list of a warm-up run of the judge (see
    the module docstring); the warm-up is our own code, run on the host before any candidate."""
    java = str(image / "bin" / "java")
    with tempfile.TemporaryDirectory(prefix="codeeval-jre-warmup-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "Warmup.java").write_text(WARMUP)
        subprocess.run(["javac", "-XDstringConcat=inline", "-d", str(tmp), str(tmp / "Warmup.java")], check=True,
                       capture_output=True, timeout=300)
        subprocess.run([java, *GC_FLAGS, DUMP_HEAP, "-XX:TieredStopAtLevel=1", "-Djava.security.manager=allow",
                        f"-XX:DumpLoadedClassList={tmp / 'judge.classlist'}", "-cp", str(tmp), LAUNCHER_CLASS,
                        "Warmup", str(image), "Warmup"], input=b"warmup\n", check=True, capture_output=True,
                       timeout=300)
        archive = image / "lib" / "server" / "classes.jsa"
        archive.unlink(missing_ok=True)
        subprocess.run([java, *GC_FLAGS, DUMP_HEAP, "-Xshare:dump",
                        f"-XX:SharedClassListFile={tmp / 'judge.classlist'}", f"-XX:SharedArchiveFile={archive}"],
                       check=True, capture_output=True, timeout=600)


def seal(tree: Path) -> None:
    """Dirs 0755, files 0644 (0755 when executable): readable by every uid, writable by none but the owner."""
    for p in [tree, *tree.rglob("*")]:
        if p.is_symlink():
            continue
        p.chmod(0o755 if p.is_dir() or p.stat().st_mode & stat.S_IXUSR else 0o644)


def _owned_and_closed(path: Path) -> bool:
    """``path`` is a real directory of this uid that no group or other may write."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _cache_dir(root: Path) -> Path | None:
    """``root`` created (0755) or checked; None when it cannot be trusted or made."""
    try:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError:
        return None
    return root if _owned_and_closed(root) else None


def _place(src: Path, dest: Path) -> None:
    """``dest`` as a tree of hard links to ``src`` (copies across file systems)."""
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dest, symlinks=True, copy_function=link)


def provide(judge_jar: Path, judge_sources: Iterable[Path], dest: Path, root: Path | None = None) -> str:
    """The runtime image at ``dest``: from the cache when a complete, trusted entry exists, else
    built (into the cache when it can be trusted, else straight into ``dest``). Returns how:
    "cached", "built" or "built-uncached"."""
    cache = _cache_dir(root or cache_root())
    if cache is None:
        build(judge_jar, dest)
        return "built-uncached"
    entry = cache / f"jre-{image_key(judge_sources)}"
    how = "cached"
    if not (_owned_and_closed(entry) and (entry / ".complete").is_file()):
        tmp = cache / f".build-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            build(judge_jar, tmp)
            (tmp / ".complete").write_text("")
            try:
                os.rename(tmp, entry)
            except OSError:  # another service finished the same image first, or a stale entry is in the way
                if not (entry / ".complete").is_file():
                    shutil.rmtree(entry, ignore_errors=True)
                    os.rename(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        how = "built"
        for stale in cache.glob("jre-*"):  # another JDK's or judge's: placed images are links or copies
            if stale != entry:
                shutil.rmtree(stale, ignore_errors=True)
    _place(entry, dest)
    (dest / ".complete").unlink(missing_ok=True)
    return how
