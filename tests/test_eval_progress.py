"""`contractqa eval --progress`: each scored question is on disk before the next is asked."""

from __future__ import annotations

import json
from pathlib import Path

from contractqa.settings import Settings
from eval.metrics import GoldQuestion
from eval.runner import evaluate
from retrieval.models import Answer, Judgement


def _question(n: int) -> GoldQuestion:
    return GoldQuestion(f"q{n}", "unanswerable", f"Question {n} ?", "sample", (), ())


def test_each_record_is_appended_as_soon_as_it_is_scored(tmp_path: Path) -> None:
    progress = tmp_path / "run.jsonl"
    asked: list[str] = []

    def answer(question: str) -> Answer:
        # Before each timed question, the records of the earlier ones are already written.
        written = progress.read_text(encoding="utf-8").splitlines() if progress.exists() else []
        assert len(written) == max(0, len(asked) - 1)  # the first call is the warm-up
        asked.append(question)
        found = Answer(question, "Les contrats sont muets.", True, "llm", [], draft="non")
        found.judge = Judgement(0.2, "logprobs", "non", 0.0)
        return found

    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    result = evaluate(settings, [_question(1), _question(2)], answerer=answer, progress=progress)
    lines = [json.loads(x) for x in progress.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["q1", "q2"] == [r.id for r in result.records]
    assert lines[0]["judge_probability"] == 0.2 and lines[0]["draft"] == "non"
