"""How each language of the stdin/stdout verifier is compiled and run (used on the host and by
the judge inside the sandbox; standard library only).

A language is a source file name, an optional compile step and a run command. The compile step
runs as its own candidate (own uid, own directory) under the compile limits and must leave one
file, the *artifact* (an executable, or a jar for Java), which the judge copies into each test
case's fresh candidate directory; languages without a compile step copy the source itself.
Commands are argv lists: ``{src}`` is the source file, ``{main}`` the Java main class.

Per-language choices (the why of each flag):

* ``cpp``: ``g++ -std=gnu++17 -O2 -pipe`` (GNU C++17, the common contest dialect; ``-pipe`` keeps
  temporary files out of the size-limited scratch space), ``-fmax-errors=20`` bounds the output;
  ``-I /opt/sppo-pch`` finds the image's precompiled ``<bits/stdc++.h>`` (built with the same
  ``-std`` and ``-O``; about 5x faster compiles of programs that include it).
* ``java``: ``javac`` then the classes zipped into ``prog.jar``. The class that holds ``main`` is
  the source's ``public class`` (else ``Main``). The JVM runs with a 512 MiB heap (``-Xmx``), the
  serial collector (no GC thread per core), the client compiler only (fast start, few threads),
  a 16 MiB thread stack (deep recursion) and its reserved address space shrunk (class space, code
  cache), and glibc keeps at most two malloc arenas (``MALLOC_ARENA_MAX=2``; each arena reserves
  64 MiB, and how many threads make one varies from run to run). It still reserves more address space than it uses: Java jobs and runs get a 1280 MiB
  address-space limit (measured in the image: with a 512 MiB heap and a 16 MiB stack, 1024 MiB
  fails to start, 1280 MiB starts; 32 MiB stacks fail even at 1408 MiB); the container's memory
  limit bounds what it really uses.
* ``javascript``: ``node --check`` is the compile step (a syntax error is ``syntax_error``, as for
  Python); the run caps V8's old generation at 512 MiB so a memory bomb ends as an out-of-memory
  error, not a kill.
* ``go``: Go's ``compile`` and ``link -s -w`` tools run directly (the standard library comes
  precompiled with Debian's Go 1.19, so no build cache is written; the ``go`` command itself is a
  cgo program whose extra threads' 8 MiB stacks broke compilations under the address-space limit
  now and then); ``GOMAXPROCS=1`` matches the container's one CPU. Go reserves about 700 MB of address space at start, so a run needs the
  default 1024 MiB address-space limit (``memory_mb``) or more.
* ``rust``: ``rustc -O --edition 2021 -C strip=debuginfo`` (without the strip, the standard
  library's debug information makes 11 MB binaries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})

PCH_DIR = "/opt/sppo-pch"
"""Where the image keeps the precompiled ``<bits/stdc++.h>`` (sandbox/image/Dockerfile)."""
CPP_STD_FLAGS = ("-std=gnu++17", "-O2")
"""The g++ flags the precompiled header was built with; the compile command must use the same."""

JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CompressedClassSpaceSize=64m",
             "-XX:ReservedCodeCacheSize=64m", "-XX:MaxMetaspaceSize=128m", "-Xshare:auto")
"""JVM flags that make the JVM start under a 1 GiB address-space limit with few threads."""


@dataclass(frozen=True)
class Language:
    """How to build and run a program of one language (see the module docstring)."""

    name: str
    tags: frozenset[str]
    """Fence info strings (lower case) that name this language; ``""`` (a bare fence) counts for all."""
    source: str
    run: tuple[str, ...]
    compile: tuple[str, ...] = ()
    artifact: str | None = None
    """The one file the compile step leaves for the runs (None: the runs get the source)."""
    compile_verdict: str = "compile_error"
    """Verdict of a rejected compile step (``syntax_error`` for the interpreted languages)."""
    memory_markers: tuple[str, ...] = ()
    """Text in a failed run's stderr that means it ran out of memory (verdict ``memory``)."""
    syntax_markers: tuple[str, ...] = ()
    """Last stderr line prefixes of a first-case failure that mean the source does not parse."""
    tools: tuple[str, ...] = ()
    """Programs the image must have for this language (checked by the judge before compiling)."""
    executable: bool = False
    """The artifact is a native executable (made executable, then exec'd, by each run)."""
    title: str = ""
    """How a prompt names the language and its toolchain (e.g. ``C++17 (g++ 12)``)."""
    memory_mb: int | None = None
    """Address-space limit (MiB) of the job and of each run when the verifier sets none (None: the
    sandbox default, 1024 MiB). Real memory is bounded by the container either way."""

    def source_name(self, source: str) -> str:
        """File name of the source (Java: the public class's name)."""
        return f"{java_main_class(source)}.java" if self.name == "java" else self.source

    def argv(self, argv: tuple[str, ...], source: str) -> list[str]:
        """``argv`` with ``{src}`` and ``{main}`` filled in for this source."""
        main = java_main_class(source) if self.name == "java" else ""
        return [a.replace("{src}", self.source_name(source)).replace("{main}", main) for a in argv]


_JAVA_PUBLIC = re.compile(r"^\s*public\s+(?:(?:final|abstract|strictfp)\s+)*class\s+([A-Za-z_$][\w$]*)", re.M)


def java_main_class(source: str) -> str:
    """The class to run: the first top-level-looking ``public class`` of the source, else ``Main``."""
    m = _JAVA_PUBLIC.search(source)
    return m.group(1) if m else "Main"


_NATIVE_MEMORY = ("std::bad_alloc", "memory allocation of", "fatal error: runtime: out of memory",
                  "fatal error: out of memory", "runtime: cannot allocate memory", "Cannot allocate memory")
"""What C++ (``bad_alloc``), Rust (``memory allocation of N bytes failed``) and Go (``fatal error:
[runtime: ]out of memory ...``) print when an allocation fails under the address-space limit."""

LANGUAGES: dict[str, Language] = {
    "python": Language(
        name="python", title="Python 3", tags=PYTHON_TAGS, source="prog.py", run=("python3", "-I", "prog.py"),
        memory_markers=("MemoryError",), syntax_markers=("SyntaxError:", "IndentationError:", "TabError:"),
        tools=("python3",),
    ),
    "cpp": Language(
        name="cpp", title="C++17 (g++ 12)", tags=frozenset({"cpp", "c++", "cc", "cxx", "hpp"}), source="prog.cpp",
        compile=("g++", *CPP_STD_FLAGS, "-pipe", "-fmax-errors=20", "-I", PCH_DIR, "-o", "prog", "{src}"),
        artifact="prog", run=("./prog",), memory_markers=_NATIVE_MEMORY, tools=("g++",), executable=True,
    ),
    "java": Language(
        name="java", title="Java 17 (the public class holds main)", tags=frozenset({"java"}), source="Main.java",
        compile=("/bin/sh", "-c",
                 "MALLOC_ARENA_MAX=2 javac -J-Xmx512m " + " ".join(f"-J{f}" for f in JVM_FLAGS)
                 + " -encoding UTF-8 -Xmaxerrs 20 -d classes \"$0\" && cd classes"
                 " && python3 -I -m zipfile -c ../prog.jar *", "{src}"),
        artifact="prog.jar",
        run=("env", "MALLOC_ARENA_MAX=2", "java", "-Xmx512m", "-Xss16m", *JVM_FLAGS, "-cp", "prog.jar", "{main}"),
        memory_markers=("java.lang.OutOfMemoryError",), tools=("javac", "java"), memory_mb=1280,
    ),
    "javascript": Language(
        name="javascript", title="JavaScript (Node.js 18)", tags=frozenset({"javascript", "js", "node", "nodejs", "mjs", "cjs"}), source="prog.js",
        compile=("node", "--check", "{src}"), compile_verdict="syntax_error",
        run=("node", "--max-old-space-size=512", "--stack-size=16000", "prog.js"),
        memory_markers=("JavaScript heap out of memory", "RangeError: Array buffer allocation failed"),
        tools=("node",),
    ),
    "go": Language(
        name="go", title="Go 1.19", tags=frozenset({"go", "golang"}), source="prog.go",
        compile=("/bin/sh", "-c", "T=$(echo /usr/lib/go/pkg/tool/linux_*) && export GOMAXPROCS=1"
                 " && \"$T/compile\" -o prog.o \"$0\" && \"$T/link\" -s -w -o prog prog.o", "{src}"),
        artifact="prog", run=("env", "GOMAXPROCS=1", "./prog"), memory_markers=_NATIVE_MEMORY, tools=("go",),
        executable=True,
    ),
    "rust": Language(
        name="rust", title="Rust 1.63 (edition 2021, standard library only)", tags=frozenset({"rust", "rs"}), source="prog.rs",
        compile=("rustc", "-O", "--edition", "2021", "-C", "strip=debuginfo", "-o", "prog", "{src}"),
        artifact="prog", run=("./prog",), memory_markers=_NATIVE_MEMORY, tools=("rustc",), executable=True,
    ),
}
"""Every language the stdio verifier judges, by canonical name."""

ALIASES = {"c++": "cpp", "js": "javascript", "node": "javascript", "golang": "go", "rs": "rust", "py": "python"}


def get_language(name: str) -> Language:
    """The language called ``name`` (aliases such as ``js``, ``c++`` accepted); ValueError if unknown."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in LANGUAGES:
        raise ValueError(f"unknown language {name!r}; the stdio verifier judges {', '.join(sorted(LANGUAGES))}")
    return LANGUAGES[key]


def tag_language(tag: str) -> str | None:
    """The language a fence's info string names (None: a bare fence or an unknown language)."""
    if not tag:
        return None
    for lang in LANGUAGES.values():
        if tag in lang.tags:
            return lang.name
    return None
