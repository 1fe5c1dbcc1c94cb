"""The embedded demo collection: a small, fully synthetic passage-ranking dataset.

What it is
----------
A knowledge base of 120 **fictional** entities (40 cities, 40 animal species, 40 people;
names built from syllables, attribute values picked from short lists with a fixed seed)
is rendered into English passages with the templates of ``builtin_kb.yaml``. Nothing is
downloaded; the same code always yields the same collection, in well under a second.

- **Corpus** (1,800 passages, shared by both splits): for every entity and each of its
  five aspects (a city's population, founding, climate, economy, transport; a species'
  habitat, diet, lifespan, appearance, conservation; a person's birth, education, work,
  awards, family) one *answer* passage, one *partial* passage (on topic, without the
  answer) and one *distractor* about a namesake (a band, a board game, a quiz show...)
  written with the words the questions use.
- **Queries**: one per entity, about one aspect: 80 in ``train`` and 40 in ``dev``, on
  disjoint entities (a student cannot memorise dev entities from train). Four phrasings:
  short head keywords ("velmora population"), medium keywords, natural questions ("How
  many people live in Velmora?") and wordy long-tail questions. Answers use different
  words from the questions, so lexical matching alone is not enough on the long ones.
- **Frequencies** from a Zipf-like log (``3000 / rank**1.1``) where short phrasings tend
  to rank higher, with noise, so both frequency- and length-based head / torso / tail
  selection are meaningful.
- **Qrels** for both splits (train qrels are for analysis; the pipeline labels train
  with a teacher): 3 = the answer passage; 2 = the partial passage; 1 = the entity's
  passages about its other aspects; 0 = the entity's namesake distractors (lexical
  matches about something else) and the same aspect's answers for two other entities.
- **No candidates**: the demo retrieves them with BM25, which ranks the distractors
  high on questions, so a semantic re-ranker has something to win.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from rankdistill.data.records import Document, Qrels, Query, RankingData

SEED = 20241023
ENTITIES_PER_KIND = 40
DEV_ENTITIES_PER_KIND = (13, 13, 14)  # 40 dev queries; the other 80 entities give train
# Phrasing mix per split (short head keywords ... wordy long-tail questions).
LEVEL_SHARES = {"short": 0.25, "medium": 0.2, "long": 0.3, "tail": 0.25}
KEYWORD_LEVELS = ("short", "medium")
LEVEL_ORDER = {"short": 0, "medium": 1, "long": 2, "tail": 3}
ZIPF_SCALE, ZIPF_EXPONENT, POPULARITY_NOISE = 3000.0, 1.1, 1.6
OTHER_ENTITY_NEGATIVES = 2
COMPANY_SUFFIXES = ("Works", "Group", "Mills", "Holdings", "Cooperative")

Split = Literal["train", "dev"]


@dataclass(frozen=True)
class _Entity:
    kind: str
    index: int
    attrs: dict[str, str]
    display: str


@dataclass(frozen=True)
class _Collection:
    corpus: dict[str, Document]
    queries: dict[Split, dict[str, Query]]
    qrels: dict[Split, Qrels]


class _NameFactory:
    """Unique capitalised names of 2-3 syllables from the knowledge base's syllables."""

    def __init__(self, syllables: list[str], rng: random.Random) -> None:
        self.syllables = syllables
        self.rng = rng
        self.used: set[str] = set()

    def new(self) -> str:
        while True:
            parts = self.rng.choices(self.syllables, k=self.rng.choice((2, 3)))
            name = "".join(parts).capitalize()
            if name not in self.used:
                self.used.add(name)
                return name


def _load_kb() -> dict[str, Any]:
    text = (resources.files("rankdistill.data") / "builtin_kb.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _attribute(spec: Any, kb: dict[str, Any], names: _NameFactory, rng: random.Random) -> str:
    """One attribute value from its spec: a list of choices, a range, a name or a KB list."""
    if isinstance(spec, list):
        return str(rng.choice(spec))
    if "range" in spec:
        low, high = spec["range"]
        value = rng.randint(low, high)
        return f"{value:,}" if spec.get("format") == "thousands" else str(value)
    if "from" in spec:
        return str(rng.choice(kb[spec["from"]]))
    kind = spec["generate"]
    if kind == "person":
        return f"{rng.choice(kb['first_names'])} {names.new()}"
    if kind == "company":
        return f"the {names.new()} {rng.choice(COMPANY_SUFFIXES)}"
    if kind == "place":
        return f"{spec.get('prefix', '')}{names.new()}{spec.get('suffix', '')}"
    raise ValueError(f"builtin_kb.yaml: unknown attribute generator {kind!r}")


def _plural(noun: str) -> str:
    """English plural of the simple nouns the knowledge base uses (finch -> finches)."""
    return f"{noun}es" if noun.endswith(("ch", "sh", "s", "x")) else f"{noun}s"


def _make_entities(kb: dict[str, Any], names: _NameFactory, rng: random.Random) -> list[_Entity]:
    entities: list[_Entity] = []
    for kind, spec in kb["kinds"].items():
        for index in range(ENTITIES_PER_KIND):
            attrs = {"name": names.new()}
            for attr, attr_spec in spec["attributes"].items():
                attrs[attr] = _attribute(attr_spec, kb, names, rng)
            for plural, singular in spec.get("plurals", {}).items():
                attrs[plural] = _plural(attrs[singular])
            entities.append(_Entity(kind, index, attrs, spec["display"].format(**attrs)))
    return entities


def _sentence(text: str) -> str:
    """Capitalise the first letter (a template may start with a lower-case attribute)."""
    return text[:1].upper() + text[1:]


def _make_passages(
    kb: dict[str, Any], entities: list[_Entity], rng: random.Random
) -> dict[tuple[str, int, str, str], Document]:
    """Passages keyed by (kind, entity index, aspect, role); docids are set afterwards."""
    passages: dict[tuple[str, int, str, str], Document] = {}
    for entity in entities:
        for aspect, spec in kb["kinds"][entity.kind]["aspects"].items():
            key = (entity.kind, entity.index, aspect)
            answer = _sentence(rng.choice(spec["answer"]).format(**entity.attrs))
            partial = _sentence(rng.choice(spec["partial"]).format(**entity.attrs))
            distractor = _sentence(rng.choice(spec["distractor"]["text"]).format(**entity.attrs))
            namesake_title = f"{entity.attrs['name']} ({spec['distractor']['namesake']})"
            passages[(*key, "answer")] = Document("", answer, entity.display)
            passages[(*key, "partial")] = Document("", partial, entity.display)
            passages[(*key, "distractor")] = Document("", distractor, namesake_title)
    return passages


def _assign_docids(
    passages: dict[tuple[str, int, str, str], Document], rng: random.Random
) -> dict[tuple[str, int, str, str], Document]:
    """Neutral docids in shuffled order, so an id never hints at a passage's role."""
    keys = list(passages)
    rng.shuffle(keys)
    return {
        key: Document(f"demo-d{number:04d}", passages[key].text, passages[key].title)
        for number, key in enumerate(keys, start=1)
    }


def _level_plan(count: int, rng: random.Random) -> list[str]:
    sizes = {level: round(share * count) for level, share in LEVEL_SHARES.items()}
    sizes["long"] += count - sum(sizes.values())
    plan = [level for level, size in sizes.items() for _ in range(size)]
    rng.shuffle(plan)
    return plan


def _qrels_for(
    entity: _Entity,
    aspect: str,
    aspects: list[str],
    same_kind: list[_Entity],
    docs: dict[tuple[str, int, str, str], Document],
    rng: random.Random,
) -> dict[str, int]:
    kind, index = entity.kind, entity.index
    judged = {
        docs[(kind, index, aspect, "answer")].docid: 3,
        docs[(kind, index, aspect, "partial")].docid: 2,
    }
    for other in aspects:
        docs_key = (kind, index, other)
        if other != aspect:
            judged[docs[(*docs_key, "answer")].docid] = 1
            judged[docs[(*docs_key, "partial")].docid] = 1
        judged[docs[(*docs_key, "distractor")].docid] = 0
    others = rng.sample([e for e in same_kind if e.index != index], OTHER_ENTITY_NEGATIVES)
    for other_entity in others:
        judged[docs[(kind, other_entity.index, aspect, "answer")].docid] = 0
    return judged


def _zipf_frequencies(levels: dict[str, str], rng: random.Random) -> dict[str, int]:
    """Log counts: popularity follows the phrasing level plus noise, counts a Zipf curve."""
    popularity = {
        qid: LEVEL_ORDER[level] + rng.uniform(0, POPULARITY_NOISE) for qid, level in levels.items()
    }
    ranked = sorted(levels, key=lambda qid: (popularity[qid], qid))
    return {
        qid: max(1, round(ZIPF_SCALE / rank**ZIPF_EXPONENT))
        for rank, qid in enumerate(ranked, start=1)
    }


@lru_cache(maxsize=1)
def _build() -> _Collection:
    kb = _load_kb()
    rng = random.Random(SEED)
    names = _NameFactory(kb["syllables"], rng)
    entities = _make_entities(kb, names, rng)
    docs = _assign_docids(_make_passages(kb, entities, rng), rng)
    by_kind: dict[str, list[_Entity]] = {}
    for entity in entities:
        by_kind.setdefault(entity.kind, []).append(entity)
    split_entities: dict[Split, list[_Entity]] = {"train": [], "dev": []}
    for (_, members), n_dev in zip(by_kind.items(), DEV_ENTITIES_PER_KIND, strict=True):
        split_entities["dev"].extend(members[:n_dev])
        split_entities["train"].extend(members[n_dev:])

    texts: dict[str, tuple[Split, str]] = {}
    levels: dict[str, str] = {}
    qrels: dict[Split, Qrels] = {"train": {}, "dev": {}}
    for split, members in split_entities.items():
        rng.shuffle(members)  # mix the kinds, so a max_queries prefix is representative
        for number, (entity, level) in enumerate(
            zip(members, _level_plan(len(members), rng), strict=True), start=1
        ):
            aspects = list(kb["kinds"][entity.kind]["aspects"])
            aspect = rng.choice(aspects)
            template = rng.choice(kb["kinds"][entity.kind]["aspects"][aspect]["queries"][level])
            qid = f"demo-{split}-{number:03d}"
            text = template.format(**entity.attrs)
            # Keyword queries are typed in lower case, questions are written as sentences.
            texts[qid] = (split, text.lower() if level in KEYWORD_LEVELS else text)
            levels[qid] = level
            qrels[split][qid] = _qrels_for(entity, aspect, aspects, by_kind[entity.kind], docs, rng)

    frequencies = _zipf_frequencies(levels, rng)
    queries: dict[Split, dict[str, Query]] = {"train": {}, "dev": {}}
    for qid, (split, text) in texts.items():
        queries[split][qid] = Query(qid, text, frequencies[qid])
    corpus = {doc.docid: doc for doc in sorted(docs.values(), key=lambda d: d.docid)}
    return _Collection(corpus, queries, qrels)


def builtin_dataset(split: Split) -> RankingData:
    """The ``train`` (80 queries) or ``dev`` (40 queries) split of the demo collection.

    Queries carry log frequencies; qrels are graded 0-3; the corpus (1,800 passages with
    titles) is the same for both splits; there are no candidates (retrieve with BM25).
    Each call returns fresh dicts, so callers may modify them.
    """
    if split not in ("train", "dev"):
        raise ValueError(f"the builtin dataset has splits 'train' and 'dev', not {split!r}")
    collection = _build()
    return RankingData(
        queries=dict(collection.queries[split]),
        corpus=dict(collection.corpus),
        candidates={},
        qrels={qid: dict(judged) for qid, judged in collection.qrels[split].items()},
    )
