"""Recording the workflows' histories, and where the recorded ones live (tests/unit/workflows/replay
replays them)."""

from pathlib import Path

REPLAY_HISTORIES = Path(__file__).parent / "histories"
