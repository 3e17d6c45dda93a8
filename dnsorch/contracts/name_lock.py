"""The lock workflow's argument and the lock activity's input (workflows/name_lock.py and
activities/name_lock.py): the activity starts the lock by its workflow's name, so it imports no workflow."""

from dataclasses import dataclass, field


@dataclass
class LockState:
    waiting: list[str] = field(default_factory=list)


@dataclass
class LockRequest:
    lock_id: str
    holder: str
