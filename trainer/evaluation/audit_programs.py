"""Programs that do no work, in each language the stdio verifier judges besides Python (the audit's
code battery writes its Python suspects itself): the empty program, a copy of the input, a
constant. The prompt says which language it asks for (```` ```cpp code block````); a suspect for
another language, or for a Python prompt, does not apply (``None``)."""

from __future__ import annotations

import re

NO_WORK: dict[str, dict[str, str]] = {
    "cpp": {
        "nothing": "int main() { return 0; }",
        "copy_input": "#include <iostream>\nint main() { std::cout << std::cin.rdbuf(); }",
        "print": '#include <cstdio>\nint main() {{ std::puts("{value}"); }}',
    },
    "java": {
        "nothing": "public class Main { public static void main(String[] args) {} }",
        "copy_input": "public class Main { public static void main(String[] args) throws Exception "
                      "{ System.in.transferTo(System.out); } }",
        "print": 'public class Main {{ public static void main(String[] args) {{ System.out.println("{value}"); }} }}',
    },
    "javascript": {
        "nothing": "// nothing to do",
        "copy_input": "process.stdin.pipe(process.stdout);",
        "print": 'console.log("{value}");',
    },
    "go": {
        "nothing": "package main\n\nfunc main() {}",
        "copy_input": 'package main\n\nimport (\n\t"io"\n\t"os"\n)\n\nfunc main() { io.Copy(os.Stdout, os.Stdin) }',
        "print": 'package main\n\nimport "fmt"\n\nfunc main() {{ fmt.Println("{value}") }}',
    },
    "rust": {
        "nothing": "fn main() {}",
        "copy_input": "fn main() { std::io::copy(&mut std::io::stdin(), &mut std::io::stdout()).unwrap(); }",
        "print": 'fn main() {{ println!("{value}"); }}',
    },
}
"""Language (fence tag) -> no-work program by kind; ``print`` takes a ``{value}``."""

CONSTANTS = ("0", "1", "-1", "YES", "NO")
_ASKED = re.compile(r"```(\w+) code block")


def asked_language(prompt: str) -> str | None:
    """The fence tag the prompt asks the answer to use, if it is one of ``NO_WORK``'s languages."""
    m = _ASKED.search(prompt)
    return m.group(1) if m and m.group(1) in NO_WORK else None


def program(prompt: str, kind: str, value: str = "") -> str | None:
    """The fenced no-work program of ``kind`` in the prompt's language (None: not such a prompt)."""
    lang = asked_language(prompt)
    if lang is None:
        return None
    code = NO_WORK[lang][kind]
    return f"```{lang}\n{code.format(value=value) if kind == 'print' else code}\n```"
