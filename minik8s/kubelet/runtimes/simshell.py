"""A tiny shell for simulated containers: enough ``sh -c`` to run the docs' examples.

Kubernetes examples give containers small shell scripts::

    command: ["sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]

The simulated runtime has no processes, so it interprets such scripts itself, on
the cluster clock, against a per-container in-memory filesystem. A liveness probe
that runs ``cat /tmp/healthy`` then fails exactly 30 virtual seconds after start,
as it would on a real node.

Supported: statements separated by ``;``, newlines, ``&&`` and ``||``;
``while true; do ...; done``; ``for x in a b c; do ...; done``; ``$VAR`` and ``${VAR}``;
``$?``, assignments (``i=0``), integer arithmetic (``$((i+1))``), ``$(date)`` and ``$(hostname)``
anywhere in a word; ``> file`` and ``>> file``; the commands ``sleep``, ``echo``,
``printf`` (plain), ``touch``, ``rm``, ``cat``, ``ls``, ``mkdir``, ``test``/``[``, ``true``,
``false``, ``exit``, ``date``, ``hostname``, ``env``/``printenv``, ``wc -l``, ``tail -f``
(forever), ``sh -c``; the network clients ``wget``, ``curl``, ``nslookup``, ``nc``, ``ping`` and
``hostname -i`` (:mod:`minik8s.kubelet.runtimes.nettools`, over the simulated pod network); stdout and
stderr apart, with ``2>&1``, ``2>/dev/null`` and ``> /dev/null``; long-running servers (``nginx``, ``httpd-foreground``, ``redis-server``,
``python -m http.server``) run forever and listen on their port. Pipes run their last command
only; anything else prints ``sh: x: not found`` and fails with 127, as a shell would. A
container whose own command is none of these does not start (containerd's ``StartError``).

Interface:
    program = parse(argv, env)            # -> Program (a list of statements)
    shell = Shell(program, fs, env, wording="busybox"|"gnu", hostname=..., net=PodNetwork(...))
    shell.run_until(t)                    # advance the script to time t
    shell.exited, shell.exit_code, shell.output, shell.listening, shell.wake_at, shell.busy_since
    run_now(argv, fs, env, ..., net=...) -> (exit_code, stdout, stderr)   # for exec: no waiting
    executable(program) -> bool           # can a container start it directly

Taught in chapter 5 (Pods: what a container runs).
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from typing import Callable, MutableMapping

from minik8s.kubelet.runtimes import nettools
from minik8s.kubelet.runtimes.simnet import PodNetwork

# A script that runs this many statements without sleeping is a busy loop: stop
# interpreting it (it burns CPU forever, as a real busy loop would).
BUSY_LOOP_LIMIT = 10_000

FOREVER = float("inf")

ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
ARITHMETIC = re.compile(r"\$\(\((.*?)\)\)")
# sh's integer division truncates toward zero; these are close enough for teaching scripts.
ARITHMETIC_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: int(a / b), ast.Mod: lambda a, b: a % b,
}

# Server commands that never exit and listen on a port.
SERVERS: dict[str, int] = {"nginx": 80, "httpd-foreground": 80, "httpd": 80, "redis-server": 6379,
                           "/pause": 0, "pause": 0, "kvstore": 8080, "goproxy": 8080}
SERVERS.update({"fluentd": 24224, "node_exporter": 9100, "/bin/node_exporter": 9100})   # node agents (chapter 10)
SERVERS["apache2-foreground"] = 80   # the HPA walkthrough's php-apache (chapter 17)

# Programs a container can start directly (``command: [sleep, "3600"]``); any other first word is
# a missing executable, which the runtime reports as containerd's StartError. (Shell builtins such
# as ``exit`` or ``cd`` are no executables either.)
EXECUTABLES = frozenset({
    "sh", "bash", "ash", "sleep", "echo", "printf", "true", "false", "date", "hostname", "env", "printenv",
    "touch", "mkdir", "rm", "cat", "test", "[", "ls", "wc", "tail", "yes", "python", "python3", "perl",
    *SERVERS, *nettools.COMMANDS,
})


def executable(program: str) -> bool:
    """Can a container start ``program`` (a name looked up in PATH, or a path)?"""
    return program.rsplit("/", 1)[-1] in EXECUTABLES


@dataclass
class Statement:
    """One command; ``connector`` says how it joins the previous one (``;``, ``&&``, ``||``)."""
    argv: list[str]
    connector: str = ";"
    redirect: tuple[str, str] | None = None  # (">" or ">>", path)
    stderr: str | None = None                 # None: to stderr; "&1": with stdout; else a path (2>)
    loop: "list[Statement] | None" = None     # a while-true body
    loop_values: list[str] | None = None      # a for-loop: values, argv[0] is the variable


Program = list[Statement]


# --- parsing ----------------------------------------------------------------------------------


def parse(argv: list[str], env: dict[str, str] | None = None) -> Program:
    """Turn a container's ``command + args`` into a program."""
    env = env or {}
    argv = [_kubernetes_refs(word, env) for word in argv]
    if len(argv) >= 3 and argv[0] in ("sh", "/bin/sh", "bash", "/bin/bash", "ash") and argv[1] == "-c":
        return parse_script(argv[2], env)
    if not argv:
        return []
    return [Statement(argv)]


def parse_script(script: str, env: dict[str, str] | None = None) -> Program:
    env = env or {}
    tokens = _tokens(script)
    statements, _ = _block(tokens, 0, (), env)
    return statements


def _tokens(script: str) -> list[str]:
    # "$(( i + 1 ))" is one word to a shell: close up its spaces before splitting into words.
    script = ARITHMETIC.sub(lambda m: "$((" + "".join(m.group(1).split()) + "))", script)
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: a real shell refuses the script too
        return ["sh:", "syntax", "error"]


def _split(tokens: list[str], start: int) -> tuple[list[str], str, int]:
    """Read one simple command's words; returns (words, the operator that ended it, next index)."""
    words: list[str] = []
    i = start
    while i < len(tokens):
        token = tokens[i]
        if token in (";", "&&", "||", "|", "&"):
            return words, token, i + 1
        words.append(token)
        i += 1
    return words, "", i


def _block(tokens: list[str], i: int, until: tuple[str, ...], env: dict[str, str]) -> tuple[Program, int]:
    """Parse statements until a word in ``until`` starts a statement (it is consumed)."""
    program: Program = []
    connector = ";"
    while i < len(tokens):
        words, op, nxt = _split(tokens, i)
        if words and words[0] in until:
            # "done" may be followed by more statements after its operator.
            return program, nxt if len(words) == 1 else i + 1
        if words and words[0] == "while":
            body, i = _loop_body(tokens, nxt, words, env)
            program.append(Statement(["while"], connector, loop=body))
            connector, i = _after(tokens, i)
            continue
        if words and words[0] == "for" and len(words) >= 3 and words[2] == "in":
            body, i = _loop_body(tokens, nxt, words, env)
            values = [_expand(w, env) for w in words[3:]]
            program.append(Statement([words[1]], connector, loop=body, loop_values=values))
            connector, i = _after(tokens, i)
            continue
        if words:
            program.append(_statement(words, connector, env))
        connector = op if op in ("&&", "||") else ";"
        i = nxt
    return program, i


def _loop_body(tokens: list[str], i: int, header: list[str], env: dict[str, str]) -> tuple[Program, int]:
    # The body starts after "do" (which may begin the next statement: "do echo hi").
    if i < len(tokens) and tokens[i] == "do":
        tokens[i] = ";"  # harmless: an empty statement
    return _block(tokens, i, ("done",), env)


def _after(tokens: list[str], i: int) -> tuple[str, int]:
    if i < len(tokens) and tokens[i] in (";", "&&", "||"):
        return (tokens[i] if tokens[i] != ";" else ";"), i + 1
    return ";", i


def _statement(words: list[str], connector: str, env: dict[str, str]) -> Statement:
    if words[0] == "do":
        words = words[1:] or ["true"]
    argv: list[str] = []
    redirect: tuple[str, str] | None = None
    stderr: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "2" and i + 2 < len(words) and words[i + 1] in (">", ">>", ">&"):
            stderr = "&1" if words[i + 1] == ">&" else _expand(words[i + 2], env)  # 2>&1, 2>/dev/null
            i += 3
            continue
        if word in (">", ">>") and i + 1 < len(words):
            redirect = (word, _expand(words[i + 1], env))
            i += 2
            continue
        if word in (">&", "<") or re.fullmatch(r"[0-9]", word) and i + 1 < len(words) and words[i + 1] in (">", ">&"):
            i += 2 if word in (">&", "<") else 1  # 1>, <file, >&2: not modelled
            continue
        argv.append(word)
        i += 1
    return Statement(argv, connector, redirect, stderr=stderr)


def _kubernetes_refs(word: str, env: dict[str, str]) -> str:
    """The kubelet itself replaces ``$(VAR)`` in command and args (an undefined one stays as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), word)


def _expand(word: str, env: dict[str, str]) -> str:
    """``$VAR`` and ``${VAR}`` from the container's environment (unknown: empty, as sh does)."""
    if "$" not in word or word.startswith("$("):
        return word
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), word)


# --- running ----------------------------------------------------------------------------------


@dataclass
class _Frame:
    statements: Program
    index: int = 0
    loop: bool = False
    variable: str = ""
    values: list[str] = field(default_factory=list)


class Shell:
    """The state of one running script: where it is, what it printed, when it next wakes."""

    def __init__(self, program: Program, fs: MutableMapping[str, str], env: dict[str, str], start: float, *,
                 wording: str = "busybox", hostname: str = "", date: Callable[[float], str] | None = None,
                 net: PodNetwork | None = None, missing: frozenset[str] = frozenset()):
        self.fs = fs
        self.net = net
        self.missing = missing     # programs this image does not have (busybox has no curl)
        self.env = env
        self.wording = wording
        self.hostname = hostname
        self.date = date or (lambda t: "")
        self.time = start
        self.frames = [_Frame(list(program))]
        self.status = 0
        self.wake_at: float | None = None
        self.exited = False
        self.exit_code = 0
        self.output: list[tuple[float, str]] = []
        self.stderr_lines: set[int] = set()   # indexes into ``output`` of the lines printed on stderr
        self.open_lines: set[int] = set()     # ... of lines still waiting for their newline
        self._unfinished: dict[bool, int | None] = {}
        self.listening: set[int] = set()
        self.forever = False
        self.busy_since: float | None = None   # when the script became a busy loop (one whole core from then)

    def run_until(self, now: float) -> None:
        """Run every statement due by ``now``; sleeps are what makes time pass."""
        steps = 0
        while not self.exited and not self.forever:
            if self.wake_at is not None:
                if self.wake_at > now:
                    return
                self.time, self.wake_at, self.status = self.wake_at, None, 0
                steps = 0
            statement = self._next()
            if statement is None:
                self.exited, self.exit_code = True, self.status
                return
            steps += 1
            if steps > BUSY_LOOP_LIMIT:
                self.forever, self.busy_since = True, self.time
                return
            self._run(statement)

    def _next(self) -> Statement | None:
        while self.frames:
            frame = self.frames[-1]
            if frame.index < len(frame.statements):
                frame.index += 1
                return frame.statements[frame.index - 1]
            if frame.loop and (not frame.variable or frame.values):
                frame.index = 0
                if frame.variable:
                    self.env[frame.variable] = frame.values.pop(0)
                continue
            self.frames.pop()
        return None

    def _run(self, st: Statement) -> None:
        if st.connector == "&&" and self.status != 0 or st.connector == "||" and self.status == 0:
            return
        if st.loop is not None:
            values = list(st.loop_values or [])
            if st.loop_values is not None:
                if not values:
                    return
                self.env[st.argv[0]] = values.pop(0)
            self.frames.append(_Frame(st.loop, loop=True, variable=st.argv[0] if st.loop_values is not None else "",
                                      values=values))
            return
        if len(st.argv) == 1 and ASSIGNMENT.match(st.argv[0]):
            # "i=0" sets a shell variable. (A prefix such as "A=1 cmd" is not supported.)
            variable, _, value = st.argv[0].partition("=")
            self.env[variable] = self._dollar(value)
            self.status = 0
            return
        argv = [self._dollar(word) for word in st.argv]
        name = argv[0] if argv else ""
        if name == "sleep":
            seconds = _seconds(argv[1] if len(argv) > 1 else "")
            if seconds is None:
                self._emit(f"sleep: invalid number '{argv[1] if len(argv) > 1 else ''}'")
                self.status = 1
            elif seconds == FOREVER:
                self.forever = True
            else:
                self.wake_at = self.time + seconds
            return
        if name == "exit":
            self.exited, self.exit_code = True, _int(argv[1] if len(argv) > 1 else str(self.status), 2)
            return
        if _is_server(argv):
            self.listening.add(_server_port(argv))
            self.forever = True
            return
        code, out, err = run_command(argv, self.fs, self.env, wording=self.wording, hostname=self.hostname,
                                     date=self.date(self.time), net=self.net, missing=self.missing)
        if st.stderr == "&1":
            out, err = out + err, ""
        elif st.stderr is not None:
            _write(self.fs, st.stderr, err, append=False)
            err = ""
        if st.redirect is not None and code != 127:
            mode, path = st.redirect
            _write(self.fs, path, out, append=mode == ">>")
            out = ""
        self._print(out)
        self._print(err, stderr=True)
        self.status = code

    def _print(self, text: str, stderr: bool = False) -> None:
        """Print ``text``; a line without its newline stays open and the next text continues it."""
        if not text:
            return
        pieces = text.split("\n")
        unfinished = self._unfinished.get(stderr)
        for n, piece in enumerate(pieces):
            if n == len(pieces) - 1 and piece == "":
                unfinished = None
                break
            if n == 0 and unfinished is not None:
                when, line = self.output[unfinished]
                self.output[unfinished] = (when, line + piece)
            else:
                self._emit(piece, stderr)
                unfinished = len(self.output) - 1
        self._unfinished[stderr] = unfinished
        self.open_lines = {i for i in self._unfinished.values() if i is not None}

    def _emit(self, line: str, stderr: bool = False) -> None:
        if stderr:
            self.stderr_lines.add(len(self.output))
        self.output.append((self.time, line))

    def _dollar(self, word: str) -> str:
        """Expand a word as sh does: arithmetic, the two command substitutions it knows, variables."""
        if "$" not in word:
            return word
        word = ARITHMETIC.sub(lambda m: str(_arithmetic(_expand(m.group(1), self.env), self.env)), word)
        word = word.replace("$(date)", self.date(self.time)).replace("$(hostname)", self.hostname)
        word = word.replace("$?", str(self.status))
        return _expand(word, self.env)


def _write(fs: MutableMapping[str, str], path: str, text: str, *, append: bool) -> None:
    if path != "/dev/null":
        fs[path] = (fs.get(path, "") if append else "") + text


def _arithmetic(expression: str, env: dict[str, str]) -> int:
    """``$((...))``: integers, + - * / %, parentheses, and variable names (unset or not a number: 0)."""
    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return _int_or_zero(env.get(node.id, ""))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC_OPERATORS:
            return ARITHMETIC_OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(expression)

    try:
        return value(ast.parse(expression.replace("/", "//"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return 0  # sh prints an error; the simulated shell keeps going with 0


def _int_or_zero(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _seconds(text: str) -> float | None:
    if text == "infinity":
        return FOREVER
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if not match:
        return None
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def _int(text: str, default: int) -> int:
    try:
        return int(text) & 0xFF
    except ValueError:
        return default


def _is_server(argv: list[str]) -> bool:
    if not argv:
        return False
    name = argv[0].rsplit("/", 1)[-1] if argv[0].startswith("/usr") else argv[0]
    if name in SERVERS:
        return True
    if name in ("tail",) and "-f" in argv:
        return True
    if name in ("python", "python3") and argv[1:3] == ["-m", "http.server"]:
        return True
    return name in ("yes",)


def _server_port(argv: list[str]) -> int:
    name = argv[0].rsplit("/", 1)[-1] if argv[0].startswith("/usr") else argv[0]
    if name in ("python", "python3"):
        rest = [a for a in argv[3:] if a.isdigit()]
        return int(rest[0]) if rest else 8000
    return SERVERS.get(name, 0)


def run_now(argv: list[str], fs: MutableMapping[str, str], env: dict[str, str], *, wording: str = "busybox",
            hostname: str = "", date: str = "", timeout: float | None = None,
            net: PodNetwork | None = None, missing: frozenset[str] = frozenset()) -> tuple[int, str, str]:
    """Run a command at once (``kubectl exec``, exec probes). ``sleep`` longer than ``timeout``
    raises :class:`TimeoutError`."""
    program = parse(argv, env)
    shell = Shell(program, fs, dict(env), 0.0, wording=wording, hostname=hostname, date=lambda t: date, net=net,
                  missing=missing)
    limit = timeout if timeout is not None else FOREVER
    shell.run_until(limit)
    if not shell.exited:
        raise TimeoutError(f'command "{" ".join(argv)}" timed out')
    ends = ["" if i in shell.open_lines else "\n" for i in range(len(shell.output))]
    out = "".join(line + ends[i] for i, (_, line) in enumerate(shell.output) if i not in shell.stderr_lines)
    err = "".join(line + ends[i] for i, (_, line) in enumerate(shell.output) if i in shell.stderr_lines)
    return shell.exit_code, out, err


def run_command(argv: list[str], fs: MutableMapping[str, str], env: dict[str, str], *, wording: str = "busybox",
                hostname: str = "", date: str = "", net: PodNetwork | None = None,
                missing: frozenset[str] = frozenset()) -> tuple[int, str, str]:
    """One simple command against the in-memory filesystem: (exit code, stdout, stderr)."""
    if not argv:
        return 0, "", ""
    name, args = argv[0].rsplit("/", 1)[-1], argv[1:]
    busybox = wording == "busybox"
    if name in missing:
        return 127, "", f"sh: {argv[0]}: not found\n"
    if name in ("sh", "bash", "ash") and len(args) >= 2 and args[0] == "-c":
        return run_now(argv, fs, env, wording=wording, hostname=hostname, date=date, net=net, missing=missing)
    if name in nettools.COMMANDS or name == "hostname" and args[:1] == ["-i"]:
        return nettools.run(name, args, fs, net or PodNetwork(None, hostname=hostname))
    if name == "true" or name == ":":
        return 0, "", ""
    if name == "false":
        return 1, "", ""
    if name == "echo":
        newline = not (args and args[0] == "-n")
        text = " ".join(args[1:] if not newline else args)
        return 0, text + ("\n" if newline else ""), ""
    if name == "printf":
        return 0, (args[0] if args else "").replace("\\n", "\n"), ""
    if name == "date":
        return 0, date + "\n", ""
    if name == "hostname":
        return 0, hostname + "\n", ""
    if name in ("env", "printenv"):
        if name == "printenv" and args:
            return (0, env[args[0]] + "\n", "") if args[0] in env else (1, "", "")
        return 0, "".join(f"{k}={v}\n" for k, v in env.items()), ""
    if name == "touch":
        for path in args:
            fs.setdefault(path, "")
        return 0, "", ""
    if name == "mkdir":
        return 0, "", ""
    if name == "rm":
        force = any(a.startswith("-") and "f" in a for a in args)
        code, err = 0, ""
        for path in (a for a in args if not a.startswith("-")):
            if path in fs:
                del fs[path]
            elif not force:
                code = 1
                err += (f"rm: can't remove '{path}': No such file or directory\n" if busybox
                        else f"rm: cannot remove '{path}': No such file or directory\n")
        return code, "", err
    if name == "cat":
        return _cat(args, fs, busybox)
    if name in ("test", "["):
        return _test([a for a in args if a != "]"], fs), "", ""
    if name == "ls":
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        found = sorted(p.rsplit("/", 1)[-1] for p in fs if any(p.startswith(d.rstrip("/") + "/") for d in paths))
        files = [p for p in paths if p in fs]
        return 0, "".join(f"{n}\n" for n in files + found), ""
    if name == "wc" and args[:1] == ["-l"]:
        code, out, err = _cat(args[1:], fs, busybox)
        return code, f"{out.count(chr(10))} {' '.join(args[1:])}\n" if code == 0 else "", err
    return 127, "", f"sh: {argv[0]}: not found\n"


def _cat(paths: list[str], fs: MutableMapping[str, str], busybox: bool) -> tuple[int, str, str]:
    out, err, code = "", "", 0
    for path in paths:
        if path in fs:
            out += fs[path]
        else:
            code = 1
            err += (f"cat: can't open '{path}': No such file or directory\n" if busybox
                    else f"cat: {path}: No such file or directory\n")
    return code, out, err


def _test(args: list[str], fs: MutableMapping[str, str]) -> int:
    if len(args) == 2 and args[0] in ("-f", "-e", "-s"):
        exists = args[1] in fs and (args[0] != "-s" or bool(fs[args[1]]))
        return 0 if exists else 1
    if len(args) == 2 and args[0] == "-d":   # a folder is where files are (kubectl cp asks)
        folder = args[1].rstrip("/") + "/"
        return 0 if folder == "/" or any(p.startswith(folder) for p in fs) else 1
    if len(args) == 2 and args[0] == "!":
        return 1 if args[1] else 0
    if len(args) == 3 and args[1] in ("=", "=="):
        return 0 if args[0] == args[2] else 1
    return 0 if args and args[0] else 1
