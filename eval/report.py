"""The eval report: report.json, report.md, report.html (with chart.png embedded)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from eval.baselines import BASELINE_COLUMNS
from eval.metrics import CORPORA
from eval.numbers import fmt
from eval.types import EvalResult, metrics_table


def baseline_table(results: list[EvalResult]) -> str:
    """One markdown table: each configuration, all questions and per corpus."""
    scopes = ["overall", *CORPORA]
    head = ["configuration"] + [f"{c} ({s})" for s in scopes for c in BASELINE_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in results:
        cells = [r.config.name]
        for s in scopes:
            m = r.metrics["overall"] if s == "overall" else r.metrics["by_corpus"].get(s, {})
            cells += [fmt(m.get(c)) for c in BASELINE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(path: Path, result: EvalResult, baselines: list[EvalResult]) -> bytes:
    """Bars of hit@5 per configuration and per question type; saved to `path`, PNG returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = baselines or [result]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    names = [b.config.name for b in configs]
    values = [b.metrics["overall"]["hit@5"] or 0.0 for b in configs]
    axes[0].barh(names, values, color="#4c72b0")
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, 1)
    axes[0].set_title("hit@5 par configuration")
    types = {t: m["hit@5"] for t, m in result.metrics["by_type"].items() if m["hit@5"] is not None}
    axes[1].bar(list(types), list(types.values()), color="#55a868")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("hit@5 par type de question (configuration par défaut)")
    axes[1].tick_params(axis="x", rotation=20)
    for ax in axes:
        ax.grid(axis="x" if ax is axes[0] else "y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.read_bytes()


def failures_md(result: EvalResult) -> str:
    lines = []
    for r in result.records:
        if not r.failures:
            continue
        e = r.expected
        lines.append(f"### {r.id} ({r.type}, {r.corpus}) — {', '.join(r.failures)}\n")
        lines.append(f"Q: {r.question}\n")
        if r.expected_abstain:
            lines.append("- expected: abstention")
        else:
            lines.append(f"- expected: {e['document']} / {e['section']} / "
                         f"art. {', '.join(e['articles']) or '—'} — « {e['evidence'][:160]} »")
        for i, c in enumerate(r.cited, start=1):
            excerpt = " ".join(c.excerpt.split())
            lines.append(f"- cited {i}: {c.document} / {c.section} / art. {c.article} — "
                         f"« {excerpt} »")
        lines.append("")
    return "\n".join(lines) or "None."


def markdown(result: EvalResult, baselines: list[EvalResult]) -> str:
    parts = ["# contractqa eval report\n",
             f"{result.metrics['overall']['questions']} questions, {result.seconds} s.\n",
             "## Default configuration\n", metrics_table(result.metrics), "",
             "Gate: " + ("OK" if not result.gate else "MISSED — " + "; ".join(result.gate)), ""]
    if baselines:
        parts += ["## Baselines\n", baseline_table(baselines), ""]
    parts += ["## Failed questions\n", failures_md(result)]
    return "\n".join(parts)


def _md_table_html(table: str) -> str:
    rows = [line.strip("|").split(" | ") for line in table.splitlines()
            if not line.startswith("|-")]
    out = ["<table>"]
    for i, row in enumerate(rows):
        tag = "th" if i == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{html.escape(c.strip())}</{tag}>" for c in row)
                   + "</tr>")
    return "\n".join([*out, "</table>"])


def to_html(result: EvalResult, baselines: list[EvalResult], png: bytes) -> str:
    image = base64.b64encode(png).decode("ascii")
    body = [f"<h1>contractqa eval</h1><p>{result.metrics['overall']['questions']} questions, "
            f"{result.seconds} s. Gate: {html.escape('; '.join(result.gate) or 'OK')}</p>",
            f'<img alt="hit@5" src="data:image/png;base64,{image}">',
            "<h2>Default configuration</h2>", _md_table_html(metrics_table(result.metrics))]
    if baselines:
        body += ["<h2>Baselines</h2>", _md_table_html(baseline_table(baselines))]
    body.append("<h2>Failed questions</h2><pre>" + html.escape(failures_md(result)) + "</pre>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "pre{white-space:pre-wrap}img{max-width:100%}")
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            f"<title>contractqa eval</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>")


def to_json(result: EvalResult, baselines: list[EvalResult]) -> dict[str, Any]:
    from eval.baselines import baseline_rows

    return {"questions": [r.to_json() for r in result.records], "metrics": result.metrics,
            "gate": result.gate, "seconds": result.seconds,
            "baselines": {"table": baseline_rows(baselines),
                          "metrics": {b.config.name: b.metrics for b in baselines}}
            if baselines else None}


def write_report(directory: Path, result: EvalResult, baselines: list[EvalResult]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(
        json.dumps(to_json(result, baselines), ensure_ascii=False, indent=2, default=str),
        encoding="utf-8")
    (directory / "report.md").write_text(markdown(result, baselines), encoding="utf-8")
    png = chart(directory / "chart.png", result, baselines)
    (directory / "report.html").write_text(to_html(result, baselines, png), encoding="utf-8")
