"""DeepSeekHashV1 proof of work: SHA3-256 with Keccak rounds 1..23 only, in a WebAssembly kernel.

keccak_kernel.py writes the kernel as WebAssembly text and wasmtime compiles it once per process (wasmtime's
import and the compilation: about 0.03 s). The worst case (144000 tries) takes about 0.05 s, well under a
plain `hashlib.sha3_256` loop over the same inputs, with the GIL released, so a solve in gevent's threadpool
does not hold up the streams on the hub. There is no pure-Python fallback: it would take about 20 s for the
worst case with the GIL, and wasmtime has wheels for every platform we deploy to (docs/deepseek-web.md).
"""

from __future__ import annotations

import base64
import json
import threading

RATE = 136  # SHA3-256 absorbs 136-byte blocks; every candidate fits in one

_lock = threading.Lock()
_kernels: list = []


def _kernel():
    """The process's compiled kernel: wasmtime is imported and the module compiled on first use only."""
    if not _kernels:
        with _lock:
            if not _kernels:
                from services.providers.deepseek_web.keccak_kernel import Kernel
                _kernels.append(Kernel())
    return _kernels[0]


def _block(message: bytes) -> bytearray:
    """A 136-byte block holding the message, with the pad's final bit set."""
    if len(message) >= RATE:
        raise ValueError("DeepSeekHashV1 here handles single-block messages (under 136 bytes)")
    block = bytearray(RATE)
    block[:len(message)] = message
    block[RATE - 1] = 0x80
    return block


def deepseek_hash(message: bytes) -> bytes:
    """DeepSeekHashV1 of one short message: a 32-byte digest."""
    block = _block(message)
    block[len(message)] ^= 0x06
    return _kernel().run(bytes(block), "hash")[1]


def solve(challenge: str, salt: str, expire_at: int, difficulty: int) -> int | None:
    """Find n in [0, difficulty) with hex(H(f"{salt}_{expire_at}_{n}")) == challenge, smallest first."""
    if difficulty >= 2 ** 31:
        raise ValueError("the kernel counts answers in 32 bits")
    difficulty = max(difficulty, 0)
    prefix = f"{salt}_{expire_at}_".encode()
    _block(prefix + str(max(difficulty - 1, 0)).encode())  # every candidate must fit in the block
    target = bytes.fromhex(challenge)
    if len(target) != 32:
        raise ValueError("a DeepSeekHashV1 challenge is 32 bytes of hex")
    answer = _kernel().run(bytes(_block(prefix)) + target, "search", len(prefix), 0, difficulty)[0]
    return None if answer < 0 else answer


_warmed: list[bool] = []


def warm() -> None:
    """Compile the kernel and check it once, before the worker serves, so the first web request does not wait."""
    if not _warmed:
        challenge = deepseek_hash(b"warm_0_1").hex()
        if solve(challenge, "warm", 0, 2) != 1:  # a call, not an assert: `python -O` must still check
            raise RuntimeError("the DeepSeekHashV1 kernel gives wrong answers")
        _warmed.append(True)


def pow_response(challenge: dict, answer: int) -> str:
    """The `X-Ds-Pow-Response` header: base64 of compact JSON echoing the challenge with the answer."""
    fields = {"algorithm": challenge["algorithm"], "challenge": challenge["challenge"], "salt": challenge["salt"],
              "answer": answer, "signature": challenge["signature"], "target_path": challenge["target_path"]}
    return base64.b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()
