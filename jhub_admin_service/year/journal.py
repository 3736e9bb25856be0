"""The journal of a year's close: ``<years_dir>/<school year>/close.json``, the steps done and
what each gave. Each step is recorded once it is wholly done (written to a temporary file,
synced, renamed), so a close killed at any point and run again skips exactly what was done."""
import json
import os
import time
from typing import Optional

from ..files import write_whole


class CloseJournal:
    def __init__(self, years_dir: str, school_year: str):
        self.folder = os.path.join(years_dir, school_year)
        self.path = os.path.join(self.folder, "close.json")
        self.school_year = school_year
        try:
            with open(self.path, encoding="utf-8") as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = {"school_year": school_year, "steps": {}}

    @property
    def finished(self) -> Optional[float]:
        return self.state.get("finished")

    def done(self, step: str) -> Optional[dict]:
        return self.state["steps"].get(step)

    def record(self, step: str, result: dict) -> None:
        self.state["steps"][step] = {**result, "at": time.time()}
        self._write()

    def finish(self) -> None:
        self.state["finished"] = time.time()
        self._write()

    def _write(self) -> None:
        write_whole(self.path, json.dumps(self.state, ensure_ascii=False, indent=1).encode("utf-8"))


def closed_years(years_dir: str) -> list:
    """The journals of the years closed or being closed here, newest first."""
    try:
        names = sorted((e.name for e in os.scandir(years_dir) if e.is_dir(follow_symlinks=False)), reverse=True)
    except FileNotFoundError:
        return []
    return [CloseJournal(years_dir, name) for name in names
            if os.path.exists(os.path.join(years_dir, name, "close.json"))]
