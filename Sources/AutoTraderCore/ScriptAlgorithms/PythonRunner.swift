import Foundation

/// The Python side of the script-algorithm protocol: a standard-library-only program that loads one
/// algorithm file written in the original design's form (`class Algorithm` with `on_data`) and answers
/// `describe` and `decide` requests on stdin/stdout. It ships inside the executor (run as `python3 -c`),
/// so an installed system needs no file besides the algorithm itself.
public enum PythonRunner {
    /// How a worker for a `.py` file is started (`python3` is looked up on the worker's PATH).
    public static func arguments(script path: String) -> [String] {
        ["python3", "-c", source, path]
    }

    /// The runner's source. `algorithm/README.md` documents what it gives an algorithm.
    public static let source = #"""
"""AutoTrader's Python runner (script-algorithm protocol version 1).

Loads one algorithm file written for the original AutoTrader design and answers the executor's
JSON-line requests on stdin/stdout. Standard library only.

The algorithm file defines `class Algorithm` with `__init__(self, ticker, initial_capital)` and
`on_data(self, bars, transaction_history)` returning ('buy', n), ('sell', n) or ('hold', 0)
(an optional third element is the reason). `get_data_requirements(self, current_time)` may return
{'bars': n} (or {'n': n}); else 200 bars are given. The module docstring is the summary.
"""
import datetime
import importlib.util
import json
import math
import os
import sys
import traceback

PROTOCOL = 1
DEFAULT_BARS = 200
MAX_BARS = 10000


def main():
    path = sys.argv[1]
    proto_in = sys.stdin.buffer
    proto_out = sys.stdout
    # A print() in the algorithm goes to stderr (the service's log), never into the protocol.
    sys.stdout = sys.stderr
    sys.dont_write_bytecode = True
    try:
        deny_network()
    except Exception as error:  # ctypes unusable here (e.g. no writable+executable memory): say so, run on
        print("autotrader runner: no network filter: %s: %s" % (type(error).__name__, error), file=sys.stderr)
    try:
        confine_writes(os.path.dirname(os.path.abspath(path)))
    except Exception as error:
        print("autotrader runner: writes not confined: %s: %s" % (type(error).__name__, error), file=sys.stderr)
    module, algorithm_class, load_error = load(path)
    while True:
        line = proto_in.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            ident = request.get("id")
        except Exception:
            answer = {"id": None, "error": "the runner got a request that is not JSON"}
        else:
            try:
                if load_error is not None:
                    answer = {"error": load_error}
                elif request.get("type") == "describe":
                    answer = describe(module, algorithm_class)
                elif request.get("type") == "decide":
                    answer = decide(algorithm_class, request)
                else:
                    answer = {"error": "unknown request type %r" % (request.get("type"),)}
            except BaseException as error:  # the algorithm's own failure: reported, the worker lives on
                if isinstance(error, (KeyboardInterrupt, SystemExit)):
                    raise
                traceback.print_exc(file=sys.stderr)
                answer = {"error": "%s: %s" % (type(error).__name__, error)}
            answer["id"] = ident
        answer.setdefault("v", PROTOCOL)
        proto_out.write(json.dumps(answer) + "\n")
        proto_out.flush()


def deny_network():
    """Before any algorithm code runs: a seccomp filter makes socket(AF_INET/AF_INET6) fail with EACCES for
    this process and everything it starts (an algorithm has no business on the network). Linux x86-64 and
    aarch64; elsewhere, or where the kernel refuses, a note on stderr and no filter."""
    import ctypes
    import platform
    arches = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
    machine = platform.machine()
    if machine not in arches:
        print("autotrader runner: no network filter on %s" % machine, file=sys.stderr)
        return
    audit_arch, nr_socket = arches[machine]
    ld, jeq, ret = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EACCES
    program = [
        (ld, 0, 0, 4), (jeq, 0, 5, audit_arch),      # another architecture's calls: allowed
        (ld, 0, 0, 0), (jeq, 0, 3, nr_socket),       # not socket(): allowed
        (ld, 0, 0, 16), (jeq, 2, 0, 2), (jeq, 1, 0, 10),  # domain AF_INET or AF_INET6: denied
        (ret, 0, 0, allow), (ret, 0, 0, deny),
    ]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*f) for f in program])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    prog = Program(len(program), filters)
    if libc.prctl(38, 1, None, 0, 0) != 0 or libc.prctl(22, 2, ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p), 0, 0) != 0:
        print("autotrader runner: the network filter was refused (errno %d)" % ctypes.get_errno(), file=sys.stderr)


def confine_writes(folder):
    """Before any algorithm code runs: Landlock lets this process and everything it starts write only under
    the algorithm's own folder (and /dev/null); reading is not restricted. Linux 5.13 or later; elsewhere a
    note on stderr."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        print("autotrader runner: writes not confined (no Landlock: errno %d)" % ctypes.get_errno(), file=sys.stderr)
        return
    write_file = 1 << 1
    write = write_file | sum(1 << bit for bit in range(4, 13))  # remove/make dir, file, char, sock, fifo, block, sym
    if abi >= 2:
        write |= 1 << 13  # refer
    if abi >= 3:
        write |= 1 << 14  # truncate
    attr = RulesetAttr(write)
    ruleset = libc.syscall(444, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    for allowed, where in ((write, folder), (write_file | (write & (1 << 14)), "/dev/null")):
        fd = os.open(where, os.O_PATH | os.O_CLOEXEC)
        rule = PathBeneath(allowed, fd)
        if libc.syscall(445, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_add_rule " + where)
        os.close(fd)
    libc.prctl(38, 1, 0, 0, 0)  # no new privileges (needed to restrict oneself unprivileged)
    if libc.syscall(446, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    os.close(ruleset)


def load(path):
    """Imports the algorithm file; returns (module, class, None) or (None, None, why not)."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("autotrader_algorithm", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as error:
        traceback.print_exc(file=sys.stderr)
        return None, None, "the file could not be loaded: %s: %s" % (type(error).__name__, error)
    algorithm_class = getattr(module, "Algorithm", None)
    if not isinstance(algorithm_class, type):
        return None, None, "the file defines no class Algorithm"
    if not callable(getattr(algorithm_class, "on_data", None)):
        return None, None, "class Algorithm has no on_data(self, bars, transaction_history) method"
    return module, algorithm_class, None


def describe(module, algorithm_class):
    doc = (module.__doc__ or algorithm_class.__doc__ or "").strip()
    summary = " ".join(doc.split("\n\n")[0].split()) if doc else "a Python algorithm"
    bars = DEFAULT_BARS
    try:
        probe = algorithm_class("SPY", 10000.0)
        bars = requirement(probe, now_utc())
    except Exception:
        traceback.print_exc(file=sys.stderr)
    return {"v": PROTOCOL, "summary": summary[:300], "bars_needed": bars}


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)


def requirement(algorithm, current_time):
    method = getattr(algorithm, "get_data_requirements", None)
    if method is None:
        return DEFAULT_BARS
    wanted = method(current_time)
    if isinstance(wanted, dict):
        for key in ("bars", "n"):
            value = wanted.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return min(value, MAX_BARS)
    return DEFAULT_BARS


def decide(algorithm_class, request):
    card = request["card"]
    algorithm = algorithm_class(card["ticker"], float(card["initial_capital"]))
    minute = datetime.datetime.strptime(request["minute"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    bars = [
        {"timestamp": b["time"],
         "ohlcv": {"o": float(b["open"]), "h": float(b["high"]), "l": float(b["low"]),
                   "c": float(b["close"]), "v": int(b["volume"])}}
        for b in request["bars"]
    ]
    wanted = requirement(algorithm, minute)
    if wanted < len(bars):
        bars = bars[len(bars) - wanted:]
    history = [
        {"id": t["id"], "algorithm_id": t["algorithm_id"], "type": t["type"], "shares": t["shares"],
         "price": float(t["price"]), "timestamp": t["timestamp"]}
        for t in request["transactions"]
    ]
    return answer(algorithm.on_data(bars, history))


def answer(result):
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        return {"error": "on_data returned %s; expected ('buy', n), ('sell', n) or ('hold', 0)" % short(result)}
    action = result[0]
    out = {"action": action if isinstance(action, str) else short(action), "shares": number(result[1])}
    if len(result) == 3 and result[2] is not None:
        out["reason"] = str(result[2])[:500]
    else:
        out["reason"] = "on_data returned (%s, %s)" % (short(result[0]), short(result[1]))
    return out


def number(value):
    """Whole numbers as JSON integers, other numbers as they are, anything else as text (refused)."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "__index__"):  # numpy integers
        return int(value.__index__())
    if hasattr(value, "__float__"):  # numpy floats, Decimal
        converted = float(value)
        return converted if math.isfinite(converted) else repr(value)
    return short(value)


def short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


if __name__ == "__main__":
    main()
"""#
}
