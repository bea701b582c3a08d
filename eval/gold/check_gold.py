"""Quick self-check for a gold JSONL file: python eval/gold/check_gold.py eval/gold/FILE.jsonl"""
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPES = {"factual", "lookup", "definition", "comparison", "multihop", "unanswerable"}
KEYS = ["id", "type", "question", "document", "section", "articles", "heading", "evidence",
        "answer_contains", "targets"]

def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).replace("\u00ad", "")  # NFKC: nbsp -> " "
    return re.sub(r"\s+", " ", s).strip().lower()

def text_of(doc: str) -> str:
    for d in ("data/contracts", "data/extra-contracts", "data/synthetic-contracts"):
        p = ROOT / d / f"{doc}.txt"
        if p.exists():
            return norm(p.read_text(encoding="utf-8"))
    raise SystemExit(f"unknown document {doc}")

errors = 0
for path in sys.argv[1:]:
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        q = json.loads(line)
        where = f"{path}:{n} {q.get('id')}"
        if list(q) != KEYS:
            print(where, "keys must be exactly", KEYS)
            errors += 1
        if q["type"] not in TYPES:
            print(where, "bad type")
            errors += 1
        entries = q["targets"] if q["targets"] else ([q] if q["document"] else [])
        if q["type"] in ("comparison", "multihop") and len(q["targets"]) < 2:
            print(where, "comparison/multihop need >= 2 targets")
            errors += 1
        quotes = []
        for e in entries:
            t = text_of(e["document"])
            for ev in e["evidence"]:
                quotes.append(norm(ev))
                if norm(ev) not in t:
                    print(where, "evidence not verbatim in", e["document"], ":",
                          ev[:80])
                    errors += 1
        if q["type"] == "unanswerable":
            if q["evidence"] or q["answer_contains"]:
                print(where, "unanswerable must have empty evidence/answer_contains")
                errors += 1
        else:
            if not q["evidence"]:
                print(where, "answerable question needs evidence")
                errors += 1
            for fact in q["answer_contains"]:
                if not any(norm(fact) in qq for qq in quotes):
                    print(where, "fact not in any quote:", fact)
                    errors += 1
print("errors:", errors)
sys.exit(1 if errors else 0)
