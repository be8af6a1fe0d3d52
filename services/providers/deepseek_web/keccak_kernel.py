"""The compiled DeepSeekHashV1 kernels (numba); imported only when a web token is first used."""

import numba
import numpy as np


@numba.njit(inline="always")
def rol(value, shift):
    """Rotate a 64-bit lane left."""
    return (value << np.uint64(shift)) | (value >> np.uint64(64 - shift))


@numba.njit(nogil=True, cache=True)
def permute(a, rc):
    """Run Keccak-f[1600] rounds 1..23 on lanes a[x + 5y]; write back the four digest lanes."""
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12 = a[0:13]
    a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24 = a[13:25]
    for r in range(rc.shape[0]):
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ rol(c1, 1)
        d1 = c0 ^ rol(c2, 1)
        d2 = c1 ^ rol(c3, 1)
        d3 = c2 ^ rol(c4, 1)
        d4 = c3 ^ rol(c0, 1)
        # rho and pi: each b is the lane pi moves to that place, after theta, rotated by rho's offset
        b0 = a0 ^ d0
        b1 = rol(a6 ^ d1, 44)
        b2 = rol(a12 ^ d2, 43)
        b3 = rol(a18 ^ d3, 21)
        b4 = rol(a24 ^ d4, 14)
        b5 = rol(a3 ^ d3, 28)
        b6 = rol(a9 ^ d4, 20)
        b7 = rol(a10 ^ d0, 3)
        b8 = rol(a16 ^ d1, 45)
        b9 = rol(a22 ^ d2, 61)
        b10 = rol(a1 ^ d1, 1)
        b11 = rol(a7 ^ d2, 6)
        b12 = rol(a13 ^ d3, 25)
        b13 = rol(a19 ^ d4, 8)
        b14 = rol(a20 ^ d0, 18)
        b15 = rol(a4 ^ d4, 27)
        b16 = rol(a5 ^ d0, 36)
        b17 = rol(a11 ^ d1, 10)
        b18 = rol(a17 ^ d2, 15)
        b19 = rol(a23 ^ d3, 56)
        b20 = rol(a2 ^ d2, 62)
        b21 = rol(a8 ^ d3, 55)
        b22 = rol(a14 ^ d4, 39)
        b23 = rol(a15 ^ d0, 41)
        b24 = rol(a21 ^ d1, 2)
        # chi, then iota
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rc[r]
    a[0], a[1], a[2], a[3] = a0, a1, a2, a3  # the digest is the first four lanes

@numba.njit(nogil=True, cache=True)
def search(block, prefix_len, start, stop, target, rc):
    """The smallest n in [start, stop) whose message hashes to target, or -1."""
    lanes = block.view(np.uint64)
    a = np.empty(25, np.uint64)
    for n in range(start, stop):
        digits, rest = 1, n // 10
        while rest:
            digits, rest = digits + 1, rest // 10
        value = n
        for i in range(prefix_len + digits - 1, prefix_len - 1, -1):
            block[i] = 48 + value % 10
            value //= 10
        block[prefix_len + digits] = 0x06           # SHA3 domain byte; the pad's final bit is preset
        for i in range(17):
            a[i] = lanes[i]
        for i in range(17, 25):
            a[i] = 0
        permute(a, rc)
        block[prefix_len + digits] = 0
        if a[0] == target[0] and a[1] == target[1] and a[2] == target[2] and a[3] == target[3]:
            return n
    return -1
