"""The DeepSeekHashV1 kernel: WebAssembly text generated here, compiled by wasmtime once per process."""

from __future__ import annotations

import atexit
import ctypes
import struct

import wasmtime

# Linear memory: the 136-byte block at 0, then the target digest, the digest computed, RC[1..23].
TARGET, DIGEST, CONSTANTS = 136, 168, 200
_RC = (0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008)
# DeepSeek's variant skips the first round: only RC[1]..RC[23] are used.
ROUND_CONSTANTS = _RC[1:]
# rho's rotation of lane (x, y), indexed [x][y]
_ROTATIONS = ((0, 36, 3, 41, 18), (1, 44, 10, 45, 2), (62, 6, 43, 15, 61), (28, 55, 25, 21, 56),
              (27, 20, 39, 8, 14))


def _get(name: str) -> str:
    """Read a local."""
    return f"(local.get ${name})"


def _xor(*terms: str) -> str:
    """Xor the terms, left to right."""
    expression = terms[0]
    for term in terms[1:]:
        expression = f"(i64.xor {expression} {term})"
    return expression


def _rotl(expression: str, shift: int) -> str:
    """Rotate a lane left (by 0: the lane itself)."""
    return f"(i64.rotl {expression} (i64.const {shift}))" if shift else expression


def _chi(x: int, y: int) -> str:
    """chi on lane (x, y): b ^ (~b[x + 1] & b[x + 2]) along its row."""
    following, after = (f"b{(x + k) % 5 + 5 * y}" for k in (1, 2))
    return _xor(_get(f"b{x + 5 * y}"), f"(i64.and (i64.xor {_get(following)} (i64.const -1)) {_get(after)})")


def _round() -> str:
    """One round on the lanes $a0..$a24 (lane x + 5y), round constant at CONSTANTS + $r."""
    steps = [f"(local.set $c{x} {_xor(*(_get(f'a{x + 5 * y}') for y in range(5)))})" for x in range(5)]
    steps += [f"(local.set $d{x} {_xor(_get(f'c{(x - 1) % 5}'), _rotl(_get(f'c{(x + 1) % 5}'), 1))})"
              for x in range(5)]
    # theta's d, then rho's rotation, into the place pi moves each lane to
    steps += [f"(local.set $b{y + 5 * ((2 * x + 3 * y) % 5)} "
              f"{_rotl(_xor(_get(f'a{x + 5 * y}'), _get(f'd{x}')), _ROTATIONS[x][y])})"
              for x in range(5) for y in range(5)]
    steps += [f"(local.set $a{x + 5 * y} {_chi(x, y)})" for y in range(5) for x in range(5)]
    steps.append(f"(local.set $a0 (i64.xor (local.get $a0) (i64.load offset={CONSTANTS} (local.get $r))))")
    return "\n      ".join(steps)


def module_text() -> str:
    """The module: `hash` permutes the padded block at 0 into DIGEST; `search(prefix_len, start, stop)`
    writes each n's digits after the prefix and returns the first n whose digest is TARGET, or -1 (the
    domain byte 0x06 is xored in and out again, as it may share the last byte with the pad's 0x80)."""
    lanes = " ".join(f"(local ${kind}{i} i64)" for kind, count in (("a", 25), ("b", 25), ("c", 5), ("d", 5))
                     for i in range(count))
    load = " ".join(f"(local.set $a{i} (i64.load offset={8 * i} (i32.const 0)))" for i in range(17))
    store = " ".join(f"(i64.store offset={DIGEST + 8 * i} (i32.const 0) (local.get $a{i}))" for i in range(4))
    constants = "".join(f"\\{byte:02x}" for byte in struct.pack(f"<{len(ROUND_CONSTANTS)}Q", *ROUND_CONSTANTS))
    same = [f"(i64.eq (i64.load offset={DIGEST + 8 * i} (i32.const 0)) (i64.load offset={TARGET + 8 * i} "
            f"(i32.const 0)))" for i in range(4)]
    return f"""(module
  (memory (export "memory") 1)
  (data (i32.const {CONSTANTS}) "{constants}")
  (func $hash (export "hash") {lanes} (local $r i32)
    {load}
    (loop $round
      {_round()}
      (br_if $round (i32.ne (local.tee $r (i32.add (local.get $r) (i32.const 8)))
                            (i32.const {8 * len(ROUND_CONSTANTS)}))))
    {store})
  (func (export "search") (param $prefix i32) (param $n i32) (param $stop i32) (result i32)
    (local $end i32) (local $rest i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $stop)))
      (local.set $end (i32.add (local.get $prefix) (i32.const 1)))
      (local.set $rest (i32.div_u (local.get $n) (i32.const 10)))
      (block $counted (loop $count
        (br_if $counted (i32.eqz (local.get $rest)))
        (local.set $end (i32.add (local.get $end) (i32.const 1)))
        (local.set $rest (i32.div_u (local.get $rest) (i32.const 10)))
        (br $count)))
      (i32.store8 (local.get $end) (i32.xor (i32.load8_u (local.get $end)) (i32.const 6)))
      (local.set $i (local.get $end))
      (local.set $rest (local.get $n))
      (loop $digit
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (i32.store8 (local.get $i) (i32.add (i32.const 48) (i32.rem_u (local.get $rest) (i32.const 10))))
        (local.set $rest (i32.div_u (local.get $rest) (i32.const 10)))
        (br_if $digit (i32.gt_u (local.get $i) (local.get $prefix))))
      (call $hash)
      (i32.store8 (local.get $end) (i32.xor (i32.load8_u (local.get $end)) (i32.const 6)))
      (if (i32.and (i32.and {same[0]} {same[1]}) (i32.and {same[2]} {same[3]}))
        (then (return (local.get $n))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (i32.const -1)))"""


class Kernel:
    """The compiled module; every call gets its own store and instance (about 30 us), so threads may call at once."""

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.parallel_compilation = False  # it compiles in a few ms: no thread pool left in every worker
        self.engine = wasmtime.Engine(config)
        self.module = wasmtime.Module(self.engine, module_text())
        # wasmtime passes each call's buffers (imports, arguments, results, memory) as ctypes arrays whose types
        # it makes on each call; ctypes keeps array types weakly, and a type is a reference cycle, so each call
        # left some to the cyclic collector. Held here, the ones our calls use are made once.
        ffi = getattr(wasmtime, "_ffi", None)  # its internals: a wasmtime that renamed them only loses this
        sizes = ((getattr(ffi, "wasmtime_val_t", None), (0, 1, 3)), (getattr(ffi, "wasmtime_extern_t", None), (0,)),
                 (ctypes.c_ubyte, (32, TARGET, DIGEST)))
        self._array_types = [item * n for item, counts in sizes if item is not None for n in counts]
        atexit.register(self.close)  # else they are freed after shutdown has torn down wasmtime's bindings

    def close(self) -> None:
        """Free the compiled module and its engine."""
        self.module.close()
        self.engine.close()

    def run(self, memory: bytes, export: str, *args: int) -> tuple[int | None, bytes]:
        """Write memory from 0, call one export and return its result with the digest it left."""
        store = wasmtime.Store(self.engine)
        exports = wasmtime.Instance(store, self.module, []).exports(store)
        exports["memory"].write(store, memory, 0)
        result = exports[export](store, *args)  # a ctypes call: the GIL is released while the kernel runs
        return result, bytes(exports["memory"].read(store, DIGEST, DIGEST + 32))
