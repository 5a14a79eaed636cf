"""Attacks on the stdio judge in C++, Java, JavaScript, Go and Rust: every one scores 0 with its
verdict, and nothing is left behind.

The problem is "print a + b". No attack prints a sum unless the attack itself worked (a write
outside the candidate's directory, a socket, a listing of another job's files succeeded): then
it prints the right answer, so a broken sandbox shows up as a reward of 1. Resource attacks (fork
and thread bombs, busy loops, memory bombs, floods) and compile-time bombs (template recursion, a
constexpr that runs for minutes, ``#include </dev/random>``, a 1 GiB object file, a deep
expression, macro recursion) must end in their own verdicts. All attacks of one language run as
one batch through a pool of two containers; afterwards no container may have needed replacing
(the sweep proved each one clean after every job), no job may have ended in ``sandbox_error``,
and honest programs in every language still pass.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from probes import OTHER_UIDS
from sppo_gym.sandbox import Job, Limits, SandboxPool, get_pool, set_pool
from sppo_gym.sandbox.image import ensure_image
from sppo_gym.sandbox.languages import LANGUAGES
from sppo_gym.verifiers.code.stdio import StdioVerifier

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SUM = {"task_id": "hack/sum", "problem": "print a + b", "tests": [{"input": "1 2\n", "output": "3\n"},
                                                                  {"input": "5 7\n", "output": "12\n"}]}
OUTSIDE = ["/etc/sppo-x", "/opt/sppo/sppo_gym/x", "/usr/bin/sppo-x", "/tmp/sppo-x", "/sppo-x", "/dev/shm/../sppo-x"]
"""Places a candidate must not write (its own directory and the swept /scratch are allowed)."""
BOMB = ("timeout", "output_limit")
"""A bomb that runs until killed ends in timeout, unless its many processes' error messages (Go's
thread-creation failures, the JVM's "unable to create native thread") fill the output first."""

# ---- C++ -----------------------------------------------------------------------------------
CPP_SUM = "long long a, b; std::cin >> a >> b; std::cout << a + b << std::endl;"
CPP: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "fork_bomb": ("#include <unistd.h>\nint main() { while (true) fork(); }\n", BOMB),
    "busy_loop_signals_ignored": ("#include <csignal>\nint main() { for (int s = 1; s < 32; s++) std::signal(s, SIG_IGN);\n"
                                  "  volatile unsigned long x = 0; while (true) x++; }\n", "timeout"),
    "memory_bomb": ("#include <vector>\nint main() { std::vector<std::vector<char>> v;\n"
                    "  while (true) v.emplace_back(1 << 26, 1); }\n", "memory"),
    "stdout_flood": ("#include <cstdio>\nint main() { while (true) std::fputs(\"3\\n3\\n3\\n3\\n\", stdout); }\n",
                     "output_limit"),
    "stderr_flood": ("#include <cstdio>\nint main() { while (true) std::fputs(\"eeeeeeeeeeeeeeee\", stderr); }\n",
                     "output_limit"),
    "write_outside": ("#include <cstdio>\n#include <iostream>\nint main() { bool leak = false;\n"
                      + "".join(f'  if (FILE* f = std::fopen("{p}", "w")) {{ leak = true; std::fclose(f); }}\n'
                                for p in OUTSIDE)
                      + f"  if (leak) {{ {CPP_SUM} }} else std::puts(\"contained\"); }}\n", "wrong_output"),
    "network": ("#include <sys/socket.h>\n#include <netinet/in.h>\n#include <iostream>\n#include <cstdio>\n"
                "int main() { int fds[] = {socket(AF_INET, SOCK_STREAM, 0), socket(AF_INET6, SOCK_DGRAM, 0),\n"
                "  socket(AF_INET, SOCK_DGRAM, 0)}; bool leak = false; for (int fd : fds) leak |= fd >= 0;\n"
                f"  if (leak) {{ {CPP_SUM} }} else std::puts(\"contained\"); }}\n", "wrong_output"),
    "read_other_jobs": ("#include <dirent.h>\n#include <cstdio>\n#include <iostream>\n#include <unistd.h>\n"
                        "int main() { bool leak = opendir(\"/scratch\") != nullptr || opendir(\"/proc/1/cwd\") != nullptr;\n"
                        "  char p[64]; std::snprintf(p, sizeof p, \"/proc/%d/environ\", getppid());\n"
                        "  for (const char* f : {\"/proc/1/environ\", (const char*)p}) if (FILE* h = std::fopen(f, \"r\")) { leak = true; std::fclose(h); }\n"
                        f"  if (leak) {{ {CPP_SUM} }} else std::puts(\"contained\"); }}\n", "wrong_output"),
    "right_output_bad_exit": (f"#include <iostream>\nint main() {{ {CPP_SUM} return 3; }}\n", "runtime_error"),
    "abort_after_output": (f"#include <iostream>\n#include <cstdlib>\nint main() {{ {CPP_SUM} std::abort(); }}\n",
                           "runtime_error"),
    "exit_zero_before_output": ("#include <cstdlib>\nint main() { std::exit(0); }\n", "wrong_output"),
    "kill_all": ("#include <csignal>\n#include <unistd.h>\nint main() { kill(-1, SIGKILL); kill(getppid(), SIGKILL); }\n",
                 "wrong_output"),
    "segfault": ("int main() { *(volatile int*)0 = 1; }\n", "runtime_error"),
    # compile-time bombs
    "template_recursion": ("template <int N> struct R { static const int v = R<N + 1>::v; };\n"
                           "int main() { return R<0>::v; }\n", "compile_error"),
    "huge_constexpr": ("constexpr long long f() { long long s = 0;\n"
                       "  for (long long i = 0; i < 200000; i++) for (long long j = 0; j < 200000; j++) s += i ^ j;\n"
                       "  return s; }\nconstexpr long long x = f();\nint main() { return (int)x; }\n", "compile_error"),
    "include_dev_random": ("#include </dev/random>\nint main() {}\n", "compile_error"),
    "include_dev_zero": ("#include </dev/zero>\nint main() {}\n", "compile_error"),
    "huge_object_file": ("char big[1 << 30] = {1};\nint main() { return big[12345]; }\n", "compile_error"),
}

# ---- Java ----------------------------------------------------------------------------------
JAVA_SUM = "java.util.Scanner in = new java.util.Scanner(System.in); System.out.println(in.nextLong() + in.nextLong());"


def java(body: str, imports: str = "") -> str:
    return f"{imports}public class Main {{\n  public static void main(String[] args) throws Exception {{\n{body}\n  }}\n}}\n"


JAVA: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "thread_bomb": (java("while (true) { try { new Thread(() -> { while (true) {} }).start(); } catch (Throwable t) {} }"),
                    BOMB),
    "process_bomb": (java("while (true) { try { new ProcessBuilder(\"/bin/sh\", \"-c\", \"while :; do :; done\").start(); }"
                          " catch (Throwable t) {} }"), BOMB),
    "busy_loop": (java("long x = 0; while (true) x++;"), "timeout"),
    "memory_bomb": (java("java.util.List<long[]> l = new java.util.ArrayList<>(); while (true) l.add(new long[1 << 20]);"),
                    "memory"),
    "stdout_flood": (java("while (true) System.out.println(\"3\");"), "output_limit"),
    "write_outside": (java("boolean leak = false;\n"
                           + "".join(f'try {{ new java.io.FileOutputStream("{p}").close(); leak = true; }} catch (Exception e) {{}}\n'
                                     for p in OUTSIDE)
                           + f"if (leak) {{ {JAVA_SUM} }} else System.out.println(\"contained\");"), "wrong_output"),
    "network": (java("boolean leak = false;\n"
                     "try { new java.net.Socket(\"1.1.1.1\", 53).close(); leak = true; } catch (Exception e) {}\n"
                     "try { new java.net.ServerSocket(0).close(); leak = true; } catch (Exception e) {}\n"
                     "try { new java.net.DatagramSocket().close(); leak = true; } catch (Exception e) {}\n"
                     f"if (leak) {{ {JAVA_SUM} }} else System.out.println(\"contained\");"), "wrong_output"),
    "read_other_jobs": (java("boolean leak = new java.io.File(\"/scratch\").list() != null;\n"
                             "try { java.nio.file.Files.readAllBytes(java.nio.file.Path.of(\"/proc/1/environ\")); leak = true; }"
                             " catch (Exception e) {}\n"
                             f"if (leak) {{ {JAVA_SUM} }} else System.out.println(\"contained\");"), "wrong_output"),
    "right_output_bad_exit": (java(f"{JAVA_SUM} System.exit(3);"), "runtime_error"),
    "exit_zero_before_output": (java("System.exit(0);"), "wrong_output"),
    "halt_after_wrong_output": (java("System.out.println(\"passed\"); System.out.flush(); Runtime.getRuntime().halt(0);"),
                                "wrong_output"),
    "uncaught_after_output": (java(f"{JAVA_SUM} throw new RuntimeException(\"after\");"), "runtime_error"),
    "deep_expression": (java("int x = " + "(" * 30000 + "1" + ")" * 30000 + "; System.out.println(x);"), "compile_error"),
}

# ---- JavaScript ----------------------------------------------------------------------------
JS_SUM = ("const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(BigInt);"
          " console.log(String(a + b));")
JS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "fork_bomb": ("const { spawn } = require('child_process');\n"
                  "setInterval(() => { for (let i = 0; i < 20; i++) { try { spawn(process.execPath, [__filename])"
                  ".on('error', () => {}); } catch (e) {} } }, 1);\n", BOMB),
    "busy_loop_signals_ignored": ("for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});\n"
                                  "while (true) {}\n", "timeout"),
    "memory_bomb": ("const l = []; while (true) l.push(new Array(1 << 20).fill(1.5));\n", "memory"),
    "buffer_bomb": ("const l = []; while (true) l.push(Buffer.alloc(1 << 28, 1));\n", "memory"),
    # node queues writes the pipe cannot take yet on its heap: the output cap or the heap cap ends it first
    "stdout_flood": ("const s = '3\\n'.repeat(10000); while (true) process.stdout.write(s);\n", ("output_limit", "memory")),
    "write_outside": ("const fs = require('fs'); let leak = false;\n"
                      + "".join(f"try {{ fs.writeFileSync('{p}', 'x'); leak = true; }} catch (e) {{}}\n" for p in OUTSIDE)
                      + f"if (leak) {{ {JS_SUM} }} else console.log('contained');\n", "wrong_output"),
    "network": ("const net = require('net');\n"
                f"const win = () => {{ {JS_SUM} process.exit(0); }};\n"
                "const s = net.connect(53, '1.1.1.1', win); s.on('error', () => {\n"
                "  const srv = net.createServer().listen(0, '127.0.0.1', win);\n"
                "  srv.on('error', () => { console.log('contained'); process.exit(0); }); });\n", "wrong_output"),
    "read_other_jobs": ("const fs = require('fs'); let leak = false;\n"
                        "try { fs.readdirSync('/scratch'); leak = true; } catch (e) {}\n"
                        "try { fs.readFileSync('/proc/1/environ'); leak = true; } catch (e) {}\n"
                        f"if (leak) {{ {JS_SUM} }} else console.log('contained');\n", "wrong_output"),
    "right_output_bad_exit": (f"{JS_SUM}\nprocess.exitCode = 3;\n", "runtime_error"),
    "exit_zero_before_output": ("process.exit(0);\n", "wrong_output"),
    "kill_self_after_output": (f"{JS_SUM}\nprocess.kill(process.pid, 'SIGKILL');\n", "runtime_error"),
    "deep_nesting": ("const x = " + "[" * 25000 + "]" * 25000 + ";\n", "syntax_error"),
}

# ---- Go ------------------------------------------------------------------------------------
GO_SUM = "var a, b int64; fmt.Scan(&a, &b); fmt.Println(a + b)"


def go(body: str, imports: tuple[str, ...] = ()) -> str:
    imps = "".join(f"\t\"{i}\"\n" for i in ("fmt", *imports))
    return f"package main\n\nimport (\n{imps})\n\nvar _ = fmt.Sprint\n\nfunc main() {{\n{body}\n}}\n"


GO: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "fork_bomb": (go("for { syscall.ForkExec(\"/proc/self/exe\", os.Args, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}) }",
                     ("os", "syscall")), BOMB),
    "goroutine_busy_loop": (go("signal.Ignore(syscall.SIGTERM, syscall.SIGINT)\n"
                               "for i := 0; i < 100; i++ { go func() { for {} }() }\nfor {}",
                               ("os/signal", "syscall")), "timeout"),
    "memory_bomb": (go("var l [][]byte\nfor { b := make([]byte, 64<<20); for i := range b { b[i] = 1 }; l = append(l, b) }"),
                    "memory"),
    "stdout_flood": (go("w := bufio.NewWriter(os.Stdout)\nfor { w.WriteString(\"3\\n3\\n3\\n3\\n\") }", ("bufio", "os")),
                     "output_limit"),
    "write_outside": (go("leak := false\n"
                         + "".join(f'if os.WriteFile("{p}", []byte("x"), 0o644) == nil {{ leak = true }}\n' for p in OUTSIDE)
                         + f"if leak {{ {GO_SUM} }} else {{ fmt.Println(\"contained\") }}", ("os",)), "wrong_output"),
    "network": (go("leak := false\n"
                   "if c, err := net.Dial(\"tcp\", \"1.1.1.1:53\"); err == nil { c.Close(); leak = true }\n"
                   "if l, err := net.Listen(\"tcp\", \"127.0.0.1:0\"); err == nil { l.Close(); leak = true }\n"
                   f"if leak {{ {GO_SUM} }} else {{ fmt.Println(\"contained\") }}", ("net",)), "wrong_output"),
    "read_other_jobs": (go("leak := false\n"
                           "if _, err := os.ReadDir(\"/scratch\"); err == nil { leak = true }\n"
                           "if _, err := os.ReadFile(\"/proc/1/environ\"); err == nil { leak = true }\n"
                           f"if leak {{ {GO_SUM} }} else {{ fmt.Println(\"contained\") }}", ("os",)), "wrong_output"),
    "right_output_bad_exit": (go(f"{GO_SUM}\nos.Exit(3)", ("os",)), "runtime_error"),
    "panic_after_output": (go(f"{GO_SUM}\npanic(\"after\")"), "runtime_error"),
    "exit_zero_before_output": (go("os.Exit(0)", ("os",)), "wrong_output"),
    "huge_constant": (go("const c = 1 << 100000000\nfmt.Println(c * c * c)"), "compile_error"),
}

# ---- Rust ----------------------------------------------------------------------------------
RUST_SUM = ("let mut s = String::new(); std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).unwrap();"
            " let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect(); println!(\"{}\", v[0] + v[1]);")
RUST: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "fork_bomb": ("fn main() { loop { let _ = std::process::Command::new(\"/proc/self/exe\").spawn(); } }\n", BOMB),
    "threads_busy_loop": ("fn main() { for _ in 0..8 { std::thread::spawn(|| loop { std::hint::spin_loop(); }); }\n"
                         "  loop { std::hint::spin_loop(); } }\n", "timeout"),
    "memory_bomb": ("fn main() { let mut v: Vec<Vec<u8>> = Vec::new(); loop { v.push(vec![1u8; 64 << 20]); } }\n", "memory"),
    "stdout_flood": ("use std::io::Write;\nfn main() { let out = std::io::stdout(); let mut l = out.lock();\n"
                     "  loop { let _ = l.write_all(b\"3\\n3\\n3\\n3\\n\"); } }\n", "output_limit"),
    "write_outside": ("fn main() { let mut leak = false;\n"
                      + "".join(f'  leak |= std::fs::write("{p}", b"x").is_ok();\n' for p in OUTSIDE)
                      + f"  if leak {{ {RUST_SUM} }} else {{ println!(\"contained\"); }} }}\n", "wrong_output"),
    "network": ("fn main() { let mut leak = std::net::TcpStream::connect(\"1.1.1.1:53\").is_ok();\n"
                "  leak |= std::net::TcpListener::bind(\"127.0.0.1:0\").is_ok();\n"
                "  leak |= std::net::UdpSocket::bind(\"0.0.0.0:0\").is_ok();\n"
                f"  if leak {{ {RUST_SUM} }} else {{ println!(\"contained\"); }} }}\n", "wrong_output"),
    "read_other_jobs": ("fn main() { let leak = std::fs::read_dir(\"/scratch\").is_ok() || std::fs::read(\"/proc/1/environ\").is_ok();\n"
                        f"  if leak {{ {RUST_SUM} }} else {{ println!(\"contained\"); }} }}\n", "wrong_output"),
    "right_output_bad_exit": (f"fn main() {{ {RUST_SUM} std::process::exit(3); }}\n", "runtime_error"),
    "panic_after_output": (f"fn main() {{ {RUST_SUM} panic!(\"after\"); }}\n", "runtime_error"),
    "exit_zero_before_output": ("fn main() { std::process::exit(0); }\n", "wrong_output"),
    "const_eval_loop": ("const X: u64 = { let mut i = 1u64; while i != 0 { i = i.wrapping_add(1); } i };\n"
                        "fn main() { println!(\"{}\", X); }\n", "compile_error"),
    "macro_recursion": ("#![recursion_limit = \"100000\"]\nmacro_rules! m { () => { m!(); m!(); }; }\nm!();\nfn main() {}\n",
                        "compile_error"),
}

ATTACKS: dict[str, dict[str, tuple[str, str | tuple[str, ...]]]] = {"cpp": CPP, "java": JAVA, "javascript": JS, "go": GO, "rust": RUST}
CASES = [(lang, name) for lang, attacks in ATTACKS.items() for name in attacks]
HONEST = {
    "cpp": "#include <iostream>\nint main() { " + CPP_SUM + " }\n",
    "java": java(JAVA_SUM),
    "javascript": JS_SUM + "\n",
    "go": go(GO_SUM),
    "rust": f"fn main() {{ {RUST_SUM} }}\n",
}


@pytest.fixture(scope="module")
def lang_pool():
    """Two containers on the image with every toolchain, as the process-wide pool meanwhile."""
    pool = SandboxPool(size=2, image=ensure_image(languages=LANGUAGES, quiet=True))
    old = get_pool()
    set_pool(pool, close_old=False)
    yield pool
    set_pool(old, close_old=False)
    pool.close()


@pytest.fixture(scope="module")
def attack_scores(lang_pool):
    """Every attack, judged: expected run timeouts with 2 s per case, the rest with 20 s (a memory
    bomb in a managed runtime takes a while to fill its heap). Compile-time bombs get 10 s to
    compile, everything else 120 s (a busy machine must not turn a slow compile into a verdict)."""
    groups: dict[tuple[float, float], list[tuple[str, str]]] = {}
    for lang, name in CASES:
        verdict = ATTACKS[lang][name][1]
        key = (2.0 if verdict in (BOMB, "timeout") else 20.0, 10.0 if verdict == "compile_error" else 120.0)
        groups.setdefault(key, []).append((lang, name))

    def run(key: tuple[float, float], cases: list[tuple[str, str]]) -> list:
        v = StdioVerifier(timeout_s=key[0], compile_timeout_s=key[1])
        items = [(f"```{lang}\n{ATTACKS[lang][name][0]}```", {**SUM, "language": lang}) for lang, name in cases]
        return v.verify_batch(items)

    with ThreadPoolExecutor(len(groups)) as ex:
        runs = {key: ex.submit(run, key, cases) for key, cases in groups.items()}
        return {case: score for key, cases in groups.items()
                for case, score in zip(cases, runs[key].result(), strict=True)}


@pytest.mark.parametrize(("lang", "name"), CASES, ids=[f"{lang}-{name}" for lang, name in CASES])
def test_attack_scores_zero_with_its_verdict(attack_scores, lang, name):
    score = attack_scores[(lang, name)]
    assert score.reward == 0.0 and not score.passed, (lang, name, score)
    expected = ATTACKS[lang][name][1]
    assert score.verdict in (expected if isinstance(expected, tuple) else (expected,)), (lang, name, score)


def test_compile_bombs_say_which_limit(attack_scores):
    # g++ gives up at its constexpr operation limit or the compile time limit ends it, whichever first
    assert any(why in attack_scores[("cpp", "huge_constexpr")].detail for why in ("time limit", "constexpr-ops-limit"))
    assert "template instantiation depth" in attack_scores[("cpp", "template_recursion")].detail
    for name in ("include_dev_random", "include_dev_zero", "huge_object_file"):
        assert attack_scores[("cpp", name)].detail, name


def test_pool_healthy_after_the_attacks(attack_scores, lang_pool):
    """No attack ended in sandbox_error, and honest programs in every language pass afterwards."""
    scores = StdioVerifier(timeout_s=10.0, compile_timeout_s=120.0).verify_batch(
        [(f"```{lang}\n{src}```", {**SUM, "language": lang}) for lang, src in HONEST.items()])
    assert all(s.passed for s in scores), scores
    assert lang_pool.stats["sandbox_errors"] == 0, lang_pool.stats


# ---- nothing left behind: what the next job in the same container can see --------------------
NEIGHBOURS = "import os\n" + OTHER_UIDS + "print(len(others))\n"
DAEMON = ("#include <iostream>\n#include <unistd.h>\nint main() {\n"
          "  if (fork() == 0) { setsid(); close(0); close(1); close(2); if (fork() == 0) while (true) {} _exit(0); }\n"
          f"  {CPP_SUM}\n}}\n")
LINGERING = [("cpp", "fork_bomb", CPP["fork_bomb"][0]), ("cpp", "daemon", DAEMON),
             ("java", "thread_bomb", JAVA["thread_bomb"][0]), ("java", "process_bomb", JAVA["process_bomb"][0]),
             ("javascript", "fork_bomb", JS["fork_bomb"][0]), ("go", "fork_bomb", GO["fork_bomb"][0]),
             ("go", "goroutine_busy_loop", GO["goroutine_busy_loop"][0]), ("rust", "fork_bomb", RUST["fork_bomb"][0])]


def test_no_process_outlives_its_job(lang_pool):
    """After each bomb or daemon, the next job in the same container (pool of one) sees no process
    but root's, its judge's and its own. (A container the job server could not prove clean is
    replaced; the next job then runs in a fresh one, which is as good.)"""
    one = SandboxPool(size=1, image=lang_pool._image)
    set_pool(one, close_old=False)
    seen = {}
    try:
        for lang, name, src in LINGERING:
            score = StdioVerifier(timeout_s=2.0, compile_timeout_s=120.0).verify(f"```{lang}\n{src}```",
                                                                                  {**SUM, "language": lang})
            probe = one.run(Job("sppo_gym.sandbox.selftest:run_python", {"code": NEIGHBOURS}, Limits(wall_s=60.0)))
            assert probe.ok, probe
            seen[(lang, name)] = (score.verdict, probe.value["stdout"].strip())
    finally:
        set_pool(lang_pool, close_old=False)
        one.close()
    assert seen[("cpp", "daemon")][0] == "passed", seen  # control: the daemon's parent did its job
    assert [k for k, v in seen.items() if v[0] not in (*BOMB, "passed")] == [], seen
    assert [k for k, v in seen.items() if v[1] != "1"] == [], seen  # the probe saw only its judge


def test_a_file_planted_by_one_job_is_gone_for_the_next(lang_pool):
    """A C++ program leaves a file in the shared /scratch and in its own directory; the next job in
    the same container looks for both by name (it cannot list) and prints the sum only if one is
    there."""
    token = secrets.token_hex(8)
    plant = ("#include <cstdio>\n#include <iostream>\nint main() {\n"
             f"  for (const char* p : {{\"/scratch/plant-{token}\", \"plant-{token}\"}})\n"
             "    if (FILE* f = std::fopen(p, \"w\")) { std::fputs(\"x\", f); std::fclose(f); }\n"
             f"  {CPP_SUM}\n}}\n")
    detect = ("#include <cstdio>\n#include <iostream>\n#include <unistd.h>\nint main() {\n"
              f"  bool seen = access(\"/scratch/plant-{token}\", F_OK) == 0;\n"
              f"  if (seen) {{ {CPP_SUM} }} else std::puts(\"clean\");\n}}\n")
    one = SandboxPool(size=1, image=lang_pool._image)
    set_pool(one, close_old=False)
    try:
        v = StdioVerifier(timeout_s=10.0, compile_timeout_s=120.0, limits=Limits(wall_s=300.0))
        first = v.verify(f"```cpp\n{plant}```", {**SUM, "language": "cpp"})
        second = v.verify(f"```cpp\n{detect}```", {**SUM, "language": "cpp"})
        started = one.stats["containers_started"]
    finally:
        set_pool(lang_pool, close_old=False)
        one.close()
    assert first.passed, first  # control: planting worked and the program ran
    assert started == 1, "both jobs must have run in the same container"
    assert (second.reward, second.verdict) == (0.0, "wrong_output"), second
