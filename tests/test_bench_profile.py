"""scripts/bench_profile.py: py-spy's collapsed stacks charged to the survey's modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from bench_profile import summary

STACKS = [
    # a worker sending a question: charged to transport.py, the innermost survey frame
    'process 1:"python -m survey";_worker_main (survey/workers.py:213);'
    "scan (survey/scan.py:146);txt (survey/resolver.py:300);send (survey/transport.py:92);"
    "sendto (socket.py:10) 6",
    # parsing, with a library frame under it
    'process 1:"python -m survey";scan (survey/scan.py:159);parse (survey/records/dmarc.py:204);'
    "match (re.py:166) 3",
    # no survey frame at all
    'process 1:"python -m survey";select (selectors.py:469) 1',
    "not a stack line",
]


def test_samples_go_to_the_innermost_survey_module() -> None:
    text = summary(STACKS, Path("f.svg"), Path("s.txt"))
    assert "10 samples" in text
    assert "60.0%  survey/transport.py" in text
    assert "30.0%  survey/records/dmarc.py" in text
    assert "10.0%  outside the survey's code" in text
    assert "survey/scan.py" not in text.split("busiest")[0]  # callers are not charged
    assert "60.0%  sendto (socket.py)" in text


def test_no_samples_is_said() -> None:
    assert summary(["garbage"], Path("f.svg"), Path("s.txt")) == "profile: no samples"
