"""The REST API's request and response bodies, as they appear in its OpenAPI schema."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from contractqa.jobs import FileStage, JobStatus
from contractqa.settings import MATTER_PATTERN

BLANK_QUESTION = "La question est vide : saisissez une question."


class TurnIn(BaseModel):
    question: str = Field(max_length=2000)
    answer: str = Field("", max_length=4000)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, examples=["Quel est le préavis ?"])
    documents: list[str] | None = Field(None, max_length=50, description="ids; absent = tous")
    history: list[TurnIn] = Field(default_factory=list, max_length=10)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(BLANK_QUESTION)
        return value


class CitationOut(BaseModel):
    n: int
    document_id: str
    document_title: str
    section: str | None
    article: str | None
    heading: str | None
    pages: list[int]
    excerpt: str
    score: float
    highlight: str = ""


class UnsupportedOut(BaseModel):
    sentence: str
    markers: list[int]
    reason: str | None


class ReattributedOut(BaseModel):
    sentence: str = Field(description="la phrase, avec le numéro de l'extrait qui l'appuie")
    markers: list[int]
    cited_by_model: list[int] = Field(description="les numéros que le modèle avait mis")


class QuoteOut(BaseModel):
    citation: int = Field(description="numéro de la citation dont la phrase est tirée")
    sentence: str


class JudgeOut(BaseModel):
    probability: float | None = Field(
        description="P(« oui ») que les extraits répondent à la question (juge) ou que les "
                    "passages cités établissent la réponse (vérification), lue dans les "
                    "logprobs")
    source: Literal["logprobs", "word", "unreadable", "error"] = Field(
        description="logprobs ; word : fournisseur sans logprobs, 1.0 pour « oui », 0.0 pour "
                    "« non » ; unreadable ou error : pas de jugement")
    word: str | None
    threshold: float | None
    abstained: bool


class AnswerOut(BaseModel):
    id: str | None
    question: str
    answer: str = Field(description="la réponse, suivie de la liste de ses sources")
    body: str = Field("", description="la réponse sans la liste des sources")
    quotes: list[QuoteOut] = Field(
        default_factory=list,
        description="phrases citées, texte exact du contrat (réponse générée : la phrase de "
                    "l'extrait qui appuie chaque affirmation)")
    abstained: bool
    mode: str
    model: str | None
    routed: list[str]
    notice: str | None
    confidence: float | None = None
    unsupported: list[UnsupportedOut] = Field(
        default_factory=list, description="phrases générées retirées faute d'appui")
    reattributed: list[ReattributedOut] = Field(
        default_factory=list,
        description="phrases générées dont le numéro d'extrait a été corrigé : l'extrait cité "
                    "par le modèle ne les appuyait pas, celui indiqué les contient")
    prompt_tokens: int | None = None
    judge: JudgeOut | None = Field(None, description="mode LLM : le jugement avant la réponse")
    verification: JudgeOut | None = Field(
        None, description="mode LLM : la vérification après la réponse (P(« oui ») que les "
                          "passages cités établissent la réponse générée)")
    citations: list[CitationOut]


class MattersIn(BaseModel):
    matters: list[Annotated[str, Field(pattern=MATTER_PATTERN)]] = Field(
        min_length=1, max_length=50, description="dossiers auxquels le contrat appartient")


class DocumentOut(BaseModel):
    document_id: str
    title: str
    filename: str
    chunks: int
    articles: int
    sections: list[str]
    aliases: list[str]
    ingested_at: str
    matters: list[str] = Field(default_factory=list, description="dossiers du contrat")


class ArticleOut(BaseModel):
    section: str | None
    article: str | None
    heading: str | None
    pages: list[int]
    chars: int


class FileResultOut(BaseModel):
    filename: str
    document_id: str | None
    status: Literal["indexed", "replaced", "unchanged", "error"]
    message: str = ""
    note: str = Field(default="", description="nouveau document, remplacé (version précédente), ou "
                      "nouvel identifiant quand le nom est déjà pris par un autre fichier")
    articles: int = 0
    chunks: int = 0


class UploadOut(BaseModel):
    ok: bool
    results: list[FileResultOut]


class FileProgressOut(BaseModel):
    filename: str
    stage: FileStage
    passages_done: int = Field(0, description="passages vectorisés (ou écrits) jusqu'ici")
    passages_total: int = Field(0, description="passages du fichier (0 avant le découpage)")


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    message: str = Field(description="où en est la tâche, ou son bilan, en français")
    url: str = Field(description="où suivre la tâche (GET)")
    progress: float = Field(description="part de la tâche faite, de 0 à 1")
    seconds_left: int | None = Field(
        None, description="temps restant estimé, en secondes, pendant l'indexation (une fois "
                          "5 % de la tâche faits et 10 s passées ; null sinon)")
    created_at: str
    started_at: str | None
    finished_at: str | None
    files: list[FileProgressOut]
    ok: bool | None = Field(None, description="une fois finie : tous les fichiers indexés ?")
    results: list[FileResultOut] = Field(
        default_factory=list, description="une fois finie : comme POST /api/documents?wait=true")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut} for s in (401, 403, 404, 413, 422, 429, 504)
}
