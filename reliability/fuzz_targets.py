"""The per-field tables of the bad-input run: typical values (so that a request reaches the field
aimed at) and hostile ones (paths that escape, unknown adapters and configs, nested JSON), per
service. Everything else comes from the descriptors (:mod:`reliability.fuzz_strategies`)."""

from __future__ import annotations

from pathlib import Path

from reliability.fuzz_strategies import Targets

PY, JAVA = 1, 2


def hostile_paths(scratch: Path) -> list[str]:
    """Paths with ``..``, absolute, symlinked (links made in ``scratch`` to /etc and to /), with a NUL,
    under ``~``, too long."""
    scratch.mkdir(parents=True, exist_ok=True)
    links = []
    for name, to in (("link-to-etc", "/etc"), ("link-to-root", "/")):
        link = scratch / name
        if not link.is_symlink():
            link.symlink_to(to)
        links.append(str(link))
    return ["../../../../etc/passwd", "/etc/passwd", "/", "..", "a/../../../b", "./../x", links[0],
            f"{links[0]}/passwd", f"{links[1]}/proc/self/environ", "~/../../etc", "x\x00y", "a/" * 2000,
            "/proc/self/fd/0", "/dev/zero", "C:\\Windows\\system32"]


def sandbox(scratch: Path, full: bool) -> Targets:
    paths = hostile_paths(scratch)
    return Targets(
        typical={"language": [PY, PY, PY, JAVA] if full else [PY], "id": ["a", "b", ""],
                 "source": [b"print(1)\n", b"def f(x):\n    return x\n"],
                 "test": [b"", b"assert f(1) == 1\n"], "entry_point": ["", "f"], "mode": [0, 1, 2, 3],
                 "stdin": [b"", b"1\n"], "wall_time_ms": [0, 2000], "cpu_time_ms": [0, 2000],
                 "memory_bytes": [0], "output_bytes": [0, 1024], "max_processes": [0], "max_file_bytes": [0],
                 "reference_source": [b"", b"def f(x):\n    return x\n"], "factor": [0.0, 2.0],
                 "floor_ms": [0, 500], "inputs": ["[1]", "[2]"], "atol": [0.0],
                 "path": ["data.txt", "input.json"], "content": [b"1\n"]},
        hostile={"path": paths, "id": ["../x", "dup", "a" * 100_000],
                 "entry_point": ["__import__('os')", "f; import os", "../x", "class", "a" * 10_000, "f\x00"],
                 "inputs": ["[" * 100_000, "[" * 50_000 + "]" * 50_000, "1e999", "NaN", '{"a":', "[1", "{}",
                            '"' + "\\u0000" * 1000 + '"', "[" + "1," * 50_000 + "1]"]},
        required={"program", "language", "source", "path", "content"},
        rare={"table", "calibration", "extra_files", "test", "entry_point", "limits", "stdin"},
    )


#: Python that CPython's compiler refuses for depth (a parse error) or on which pylint's astroid runs
#: exponentially long (the file's pylint tool error once its budget is spent): deep brackets, nested
#: ifs past the indentation limit, a long ``a+a+...+a`` and elif chain, a huge integer, a doubling
#: ``x = x + x`` inference chain, a null byte.
ADVERSARIAL_PY = [b"x = " + b"(" * 5_000 + b"1" + b")" * 5_000 + b"\n",
                  b"".join(b" " * i + b"if x:\n" for i in range(120)) + b" " * 120 + b"pass\n",
                  b"a = 1\nb = " + b"+".join([b"a"] * 5_000) + b"\n",
                  b"x = 1\nif x == 0:\n    y = 0\n" + b"".join(b"elif x == %d:\n    y = 1\n" % i for i in range(3_000)),
                  b"x = " + b"9" * 100_000 + b"\n",
                  b"x0 = [1]\n" + b"".join(b"x%d = x%d + x%d\n" % (i + 1, i, i) for i in range(40))
                  + b"print(x40.count)\n",
                  b"x = 1\x00\n"]


def analyzer(scratch: Path, full: bool) -> Targets:
    return Targets(
        typical={"path": ["a.py", "b.py", "A.java"], "language": [0, PY, JAVA] if full else [0, PY],
                 "content": [b"x = 1\n", b"def f():\n    return 1\n", b"class A { void f() {} }\n"],
                 "java_categories": ["design"], "metrics": ["bleu", "exact_match", "chrf"],
                 "hypotheses": ["a b", "x = 1"], "references": ["a b", "x = 2"], "sources": ["a"]},
        hostile={"path": hostile_paths(scratch), "java_categories": ["nope", "../../etc", "", "design\x00"],
                 "metrics": ["nope", "", "../x", "codebleu\x00"],
                 "content": [b"(" * 100_000, b"def f(:\n", b"\x00" * 1000, b"class A {" * 5_000,
                             b"x = '" + b"\\" * 10_000, "\ud800".encode("utf-8", "surrogatepass"), *ADVERSARIAL_PY]},
        required={"files", "file", "content", "path", "hypotheses", "references"},
        rare={"sources", "java_categories", "metrics"},
    )


def generator(scratch: Path, full: bool) -> Targets:
    names = ["", "nope", "../x", "a" * 1000, "base", "x\x00y"]
    return Targets(
        typical={"adapter": [""], "template": [""], "template_override": [False], "id": ["p1", "p2"],
                 "text": ["Say hi", "def f():"], "raw": ["x"], "role": ["user", "system", "assistant"],
                 "content": ["hi"], "temperature": [0.0, 0.7], "top_p": [0.0, 0.9], "max_tokens": [1, 2],
                 "n": [1, 2], "seed": [1], "stop": [".", "\n"], "name": ["fuzz-adapter"],
                 "path": ["no-such-adapter-folder"], "replace": [False, True]},
        hostile={"adapter": names, "name": names, "template": ["nope", "model", "../x", "smollm2", "raw"],
                 "role": ["root", "", "tool", "USER"], "path": hostile_paths(scratch) + ["org/name", "org/name@rev"],
                 "stop": ["", "\x00", "a" * 10_000]},
        required={"prompts", "sampling", "name", "path"},
        rare={"stop", "seed", "template", "template_override", "adapter"},
    )


def trainer(scratch: Path, full: bool, configs: list[str]) -> Targets:
    paths = hostile_paths(scratch)
    return Targets(
        typical={"config": configs[:3] + ["no-such-config"], "key": ["train.max_steps"], "value": ["1"],
                 "name": ["fuzz"], "id": ["no-such-job"], "page_size": [0, 1, 10], "page_token": [""],
                 "state": [0, 1, 2, 3, 4, 5]},
        hostile={"config": ["../configs/x", "/etc/passwd", "", "a" * 10_000, "x\x00y"] + paths[:3],
                 "id": ["../x", "", "a" * 10_000, "x\x00y", "1 OR 1=1", "%"],
                 "page_token": ["garbage", "-1", "99999999999999999999", "\x00", "../x", "a" * 10_000],
                 "overrides": [("train.max_steps", "-1"), ("train.max_steps", "1e99"), ("train.max_steps", "abc"),
                               ("nope.key", "1"), ("", ""), ("train.max_steps", "9" * 400), ("../x", "1"),
                               ("model.base", "/etc"), ("model.base", "../../../etc"), ("train.epochs", "nan"),
                               ("output.adapter_name", "../../x"), ("data.tasks.99.source.limit", "1"),
                               ("train.learning_rate", "inf"), ("method.lora.r", "0"), ("train.scheduler", "[1")]
                 + [("model.base", p) for p in paths[:8]]},
        required={"config", "id"},
    )
