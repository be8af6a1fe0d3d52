"""DeepSeekHashV1 proof of work: SHA3-256 with Keccak rounds 1..23 only, in a numba-compiled kernel.

Vectorised numpy lanes were measured at 0.63 s for the worst case (144000 tries), 1.8x a plain
`hashlib.sha3_256` loop over the same inputs (0.36 s); the compiled kernel (keccak_kernel.py) takes about
0.12 s and releases the GIL, so a solve in gevent's threadpool does not hold up the streams on the hub.
"""

from __future__ import annotations

import base64
import json
import threading

import numpy as np

RATE = 136  # SHA3-256 absorbs 136-byte blocks; every candidate fits in one
_RC = (0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008)
# DeepSeek's variant skips the first round: only RC[1]..RC[23] are used.
ROUND_CONSTANTS = np.array(_RC[1:], dtype=np.uint64)


def _block(message: bytes) -> np.ndarray:
    """A 136-byte block holding the message, with the pad's final bit set."""
    if len(message) >= RATE:
        raise ValueError("DeepSeekHashV1 here handles single-block messages (under 136 bytes)")
    block = np.zeros(RATE, dtype=np.uint8)
    block[:len(message)] = np.frombuffer(message, dtype=np.uint8)
    block[RATE - 1] = 0x80
    return block


def deepseek_hash(message: bytes) -> bytes:
    """DeepSeekHashV1 of one short message: a 32-byte digest."""
    from services.providers.deepseek_web.keccak_kernel import permute  # numba: loaded on first use only
    block = _block(message)
    block[len(message)] ^= 0x06
    a = np.zeros(25, dtype=np.uint64)
    a[:17] = block.view(np.uint64)
    permute(a, ROUND_CONSTANTS)
    return a[:4].astype("<u8").tobytes()


def solve(challenge: str, salt: str, expire_at: int, difficulty: int) -> int | None:
    """Find n in [0, difficulty) with hex(H(f"{salt}_{expire_at}_{n}")) == challenge, smallest first."""
    from services.providers.deepseek_web.keccak_kernel import search  # numba: loaded on first use only
    prefix = f"{salt}_{expire_at}_".encode()
    block = _block(prefix + b"0" * len(str(max(difficulty - 1, 0))))
    block[len(prefix):RATE - 1] = 0
    target = np.frombuffer(bytes.fromhex(challenge), dtype="<u8").copy()
    answer = search(block, len(prefix), 0, difficulty, target, ROUND_CONSTANTS)
    return None if answer < 0 else int(answer)


_warm_lock = threading.Lock()
_warmed: list[bool] = []


def warm() -> None:
    """Run both kernels once, under a lock, before the worker serves: their first calls load numba's cache
    (or compile), and several first calls at once from gevent's threadpool deadlocked."""
    with _warm_lock:
        if not _warmed:
            challenge = deepseek_hash(b"warm_0_1").hex()
            if solve(challenge, "warm", 0, 2) != 1:  # a call, not an assert: `python -O` must still warm
                raise RuntimeError("the DeepSeekHashV1 kernel gives wrong answers")
            _warmed.append(True)


def pow_response(challenge: dict, answer: int) -> str:
    """The `X-Ds-Pow-Response` header: base64 of compact JSON echoing the challenge with the answer."""
    fields = {"algorithm": challenge["algorithm"], "challenge": challenge["challenge"], "salt": challenge["salt"],
              "answer": answer, "signature": challenge["signature"], "target_path": challenge["target_path"]}
    return base64.b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()


if __name__ == "__main__":
    # Build steps run this once so the first web request of a deployment does not wait for compilation.
    assert solve("f99dfd1071f8bdb8d9ca5df4738ed14510c7e349b47aaae25de825a4d007e539",
                 "0f1e2d3c4b5a69788796", 1767225600000, 144000) == 143999
    print("DeepSeekHashV1 kernel compiled and cached")
