"""Watch what a process sends Redis: round trips, commands, and scripts whose keys span cluster slots."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Iterator

from redis.connection import AbstractConnection
from redis.crc import key_slot

# Sent by redis-py's health check and by a pub/sub listener, not by the request being watched.
_NOT_A_REQUEST = {"PING", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE"}


def _text(part) -> str:
    return part.decode() if isinstance(part, bytes) else str(part)


@dataclass
class RedisCalls:
    """What went to Redis while watched: one round trip per packet sent, the commands in them, and each
    script call (EVAL/EVALSHA/FCALL) whose KEYS hash to more than one cluster slot."""

    round_trips: int = 0
    commands: list[str] = field(default_factory=list)
    cross_slot: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw(self, commands: list[tuple]) -> None:
        """Count one packet of commands."""
        names = [_text(args[0]).upper() for args in commands]
        if not names or set(names) <= _NOT_A_REQUEST:
            return
        with self._lock:
            # The lease heartbeat renews on a timer of its own, whatever the requests do: not their cost.
            if threading.current_thread().name != "lease-renewer":
                self.round_trips += 1
                self.commands += names
            for name, args in zip(names, commands):
                if name in ("EVAL", "EVALSHA", "FCALL") and len(args) > 2:
                    keys = [_text(k) for k in args[3:3 + int(args[2])]]
                    if len({key_slot(k.encode()) for k in keys}) > 1:
                        self.cross_slot.append(f"{name} {keys}")

    def reset(self) -> None:
        """Forget what was seen so far."""
        with self._lock:
            self.round_trips, self.commands, self.cross_slot = 0, [], []


@contextlib.contextmanager
def watching() -> Iterator[RedisCalls]:
    """Watch every redis-py connection of this process: a single command is one round trip, a pipeline one."""
    calls = RedisCalls()
    send_command, pack_commands = AbstractConnection.send_command, AbstractConnection.pack_commands

    def counted_command(self, *args, **kwargs):
        calls.saw([args])
        return send_command(self, *args, **kwargs)

    def counted_pipeline(self, commands):
        commands = list(commands)
        calls.saw(commands)
        return pack_commands(self, commands)

    AbstractConnection.send_command, AbstractConnection.pack_commands = counted_command, counted_pipeline
    try:
        yield calls
    finally:
        AbstractConnection.send_command, AbstractConnection.pack_commands = send_command, pack_commands
