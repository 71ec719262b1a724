"""NeMo ignores every other argument of ``transcribe()`` when ``override_config`` is given, so timestamps vanish.

The engine test spies on the real call; this one also guards code paths no test runs.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSED_AS_ARGUMENT = re.compile(r"override_config\s*=")


def test_no_source_file_passes_override_config():
    sources = [*ROOT.glob("transcriber/*.py"), *ROOT.glob("*.py"), *ROOT.glob("bench/*.py")]
    assert len(sources) >= 8
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PASSED_AS_ARGUMENT.search(line)
    ]
    assert offenders == []
