"""The demo crawl: a small multilingual sample crawl (text written for this project), seeded, as WARC.gz files.

It mixes what real crawls hold: articles with navigation and footers in four languages, exact and near duplicates,
very short pages, keyword spam, non-HTML responses and an HTTP error. `curate demo` runs on it; tests and benches build
their own crawls from the same parts (:mod:`curate.testing` lists them).
"""
from __future__ import annotations

import gzip
import hashlib
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

_PHRASES = {
    "en": {
        "subjects": ["The city council", "Our research team", "The local library", "A small bakery", "The football club",
                     "The regional hospital", "Every gardener", "The new railway line", "A group of students",
                     "The weather service", "Most families", "The old museum"],
        "verbs": ["has published", "will discuss", "is planning", "announced", "carefully reviewed", "wants to improve",
                  "has completed", "is looking for", "reported on", "explained"],
        "objects": ["a plan for cleaner streets", "the results of a long study", "new opening hours for the summer",
                    "a recipe that needs only four ingredients", "the schedule of the coming season",
                    "better care for older patients", "the best time to plant tomatoes", "a faster way to the coast",
                    "the history of the harbour", "warnings about heavy rain", "ways to save energy at home"],
        "tails": ["after a long meeting on Monday", "with the help of many volunteers", "because people asked for it",
                  "and the response has been very positive", "so that everyone can take part",
                  "even though the budget is small", "for the first time in ten years", "in a short report"],
        "extra": ["This is what we know so far.", "Readers can send their questions to the editors.",
                  "More details will follow next week.", "It is not the first time that this has happened.",
                  "Many of them said that they had waited for this change."],
    },
    "de": {
        "subjects": ["Der Stadtrat", "Unser Forschungsteam", "Die Bibliothek", "Eine kleine Bäckerei", "Der Sportverein",
                     "Das Krankenhaus", "Jeder Gärtner", "Die neue Bahnlinie", "Eine Gruppe von Studenten",
                     "Der Wetterdienst", "Viele Familien"],
        "verbs": ["hat veröffentlicht", "diskutiert", "plant", "kündigte an", "prüft sorgfältig", "möchte verbessern",
                  "hat abgeschlossen", "sucht", "berichtete über"],
        "objects": ["einen Plan für saubere Straßen", "die Ergebnisse einer langen Studie",
                    "neue Öffnungszeiten für den Sommer", "ein Rezept mit nur vier Zutaten",
                    "den Spielplan der nächsten Saison", "eine bessere Pflege für ältere Menschen",
                    "die beste Zeit, um Tomaten zu pflanzen", "die Geschichte des Hafens", "Wege, um Energie zu sparen"],
        "tails": ["nach einer langen Sitzung am Montag", "mit der Hilfe vieler Freiwilliger",
                  "weil die Bürger danach gefragt haben", "und die Reaktionen sind sehr positiv",
                  "damit alle teilnehmen können", "obwohl das Geld knapp ist", "zum ersten Mal seit zehn Jahren"],
        "extra": ["Das ist der aktuelle Stand.", "Leser können ihre Fragen an die Redaktion schicken.",
                  "Weitere Einzelheiten folgen in der nächsten Woche.", "Es ist nicht das erste Mal, dass das passiert."],
    },
    "fr": {
        "subjects": ["Le conseil municipal", "Notre équipe de recherche", "La bibliothèque du quartier",
                     "Une petite boulangerie", "Le club de football", "L'hôpital régional", "Chaque jardinier",
                     "La nouvelle ligne de train", "Un groupe d'étudiants", "Le service météo", "Beaucoup de familles"],
        "verbs": ["a publié", "va discuter", "prépare", "a annoncé", "examine avec soin", "veut améliorer",
                  "a terminé", "cherche", "a présenté"],
        "objects": ["un projet pour des rues plus propres", "les résultats d'une longue étude",
                    "de nouveaux horaires pour l'été", "une recette qui ne demande que quatre ingrédients",
                    "le calendrier de la saison prochaine", "de meilleurs soins pour les personnes âgées",
                    "le meilleur moment pour planter des tomates", "l'histoire du port", "des moyens d'économiser l'énergie"],
        "tails": ["après une longue réunion lundi", "avec l'aide de nombreux bénévoles", "parce que les habitants l'ont demandé",
                  "et les réactions sont très positives", "pour que tout le monde puisse participer",
                  "même si le budget est limité", "pour la première fois depuis dix ans"],
        "extra": ["Voici ce que nous savons pour le moment.", "Les lecteurs peuvent envoyer leurs questions à la rédaction.",
                  "D'autres détails suivront la semaine prochaine.", "Ce n'est pas la première fois que cela arrive."],
    },
    "es": {
        "subjects": ["El ayuntamiento", "Nuestro equipo de investigación", "La biblioteca del barrio",
                     "Una pequeña panadería", "El club de fútbol", "El hospital regional", "Cada jardinero",
                     "La nueva línea de tren", "Un grupo de estudiantes", "El servicio meteorológico", "Muchas familias"],
        "verbs": ["ha publicado", "va a discutir", "está preparando", "anunció", "revisa con cuidado", "quiere mejorar",
                  "ha terminado", "está buscando", "presentó"],
        "objects": ["un plan para tener calles más limpias", "los resultados de un largo estudio",
                    "nuevos horarios para el verano", "una receta que solo necesita cuatro ingredientes",
                    "el calendario de la próxima temporada", "una mejor atención para las personas mayores",
                    "el mejor momento para plantar tomates", "la historia del puerto", "formas de ahorrar energía en casa"],
        "tails": ["después de una larga reunión el lunes", "con la ayuda de muchos voluntarios",
                  "porque los vecinos lo pidieron", "y la respuesta ha sido muy positiva", "para que todos puedan participar",
                  "aunque el presupuesto es pequeño", "por primera vez en diez años"],
        "extra": ["Esto es lo que sabemos hasta ahora.", "Los lectores pueden enviar sus preguntas a la redacción.",
                  "Más detalles la próxima semana.", "No es la primera vez que esto ocurre."],
    },
}
_NAV = {"en": ["Home", "News", "Sport", "Culture", "Contact"], "de": ["Startseite", "Nachrichten", "Sport", "Kontakt"],
        "fr": ["Accueil", "Actualités", "Sport", "Contact"], "es": ["Inicio", "Noticias", "Deportes", "Contacto"]}
_FOOTER = {"en": "© 2026 Example Media. All rights reserved. Privacy policy · Cookie settings",
           "de": "© 2026 Beispiel Medien. Alle Rechte vorbehalten. Datenschutz · Impressum",
           "fr": "© 2026 Exemple Médias. Tous droits réservés. Mentions légales · Cookies",
           "es": "© 2026 Ejemplo Medios. Todos los derechos reservados. Privacidad · Cookies"}
LANGUAGE_SHARE = [("en", 60), ("de", 30), ("fr", 25), ("es", 25)]


def sentence(rng: random.Random, lang: str) -> str:
    """One sentence in `lang` (en, de, fr, es): subject, verb, object and tail, each drawn by `rng`."""
    bank = _PHRASES[lang]
    return f"{rng.choice(bank['subjects'])} {rng.choice(bank['verbs'])} {rng.choice(bank['objects'])} " \
           f"{rng.choice(bank['tails'])}."


def phrase_lists() -> list[list[str]]:
    """Every list of phrases the sentences are drawn from (per language: subjects, verbs, objects, tails, extras)."""
    return [list(phrases) for bank in _PHRASES.values() for phrases in bank.values()]


def article(rng: random.Random, lang: str) -> tuple[str, list[str]]:
    """A news article in `lang`: (title, paragraphs of three to five sentences)."""
    bank = _PHRASES[lang]
    title = sentence(rng, lang).rstrip(".")
    paragraphs = []
    for _ in range(rng.randint(4, 7)):
        sentences = [sentence(rng, lang) for _ in range(rng.randint(3, 5))]
        if rng.random() < 0.5:
            sentences.append(rng.choice(bank["extra"]))
        paragraphs.append(" ".join(sentences))
    return title, paragraphs


def page(lang: str, title: str, paragraphs: list[str]) -> str:
    """An article's HTML page, with the navigation, aside and footer a news site wraps it in."""
    nav = "".join(f'<li><a href="/{item.lower()}">{item}</a></li>' for item in _NAV[lang])
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head><body>'
            f'<header><nav><ul>{nav}</ul></nav></header><main><article><h1>{title}</h1>{body}</article></main>'
            f'<aside><h3>Links</h3><ul><li><a href="/a">{_NAV[lang][1]}</a></li></ul></aside>'
            f"<footer><p>{_FOOTER[lang]}</p></footer></body></html>")


def spam_page(rng: random.Random) -> str:
    """A keyword-spam page: a list of offers, a wall of hashtags, or lines of sales words."""
    words = ["cheap", "best", "deal", "buy", "now", "free", "casino", "bonus", "click", "win", "online", "offer"]
    kind = rng.randrange(3)
    if kind == 0:
        items = "".join(f"<li>• {' '.join(rng.choices(words, k=3))}</li>" for _ in range(30))
        return f"<html><body><ul>{items}</ul></body></html>"
    if kind == 1:
        tags = " ".join(f"#{rng.choice(words)}" for _ in range(120))
        return f"<html><body><p>{tags}</p></body></html>"
    lines = "".join(f"<p>{' '.join(rng.choices(words, k=6))}...</p>" for _ in range(25))
    return f"<html><body>{lines}</body></html>"


def warc_record(url: str, date: datetime, status: str, content_type: str, body: bytes) -> bytes:
    """One gzip member: a WARC response record of `url` holding an HTTP response (`status`, e.g. `200 OK`)."""
    http = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    headers = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.UUID(int=hash_url(url))}>\r\n"
               f"WARC-Date: {date.strftime('%Y-%m-%dT%H:%M:%SZ')}\r\nWARC-Target-URI: {url}\r\n"
               f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(headers + http + b"\r\n\r\n", mtime=0)


def hash_url(url: str) -> int:
    """A 128-bit number from `url` (the record's WARC-Record-ID)."""
    return int.from_bytes(hashlib.sha256(url.encode()).digest()[:16], "big")


def generate_crawl(directory: Path, files: int = 4, seed: int = 7) -> list[Path]:
    """Write the sample crawl as `files` WARC.gz files; returns their paths."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    pages: list[tuple[str, str, str, bytes]] = []  # url, status, content type, body
    articles = []
    for lang, count in LANGUAGE_SHARE:
        for i in range(count):
            title, paragraphs = article(rng, lang)
            articles.append((lang, title, paragraphs))
            pages.append((f"https://{lang}.example-news.org/{i}/story.html", "200 OK", "text/html; charset=utf-8",
                          page(lang, title, paragraphs).encode()))
    for i, (lang, title, paragraphs) in enumerate(rng.sample(articles, 20)):  # exact copies under other URLs
        pages.append((f"https://mirror.example.net/{lang}/{i}.html", "200 OK", "text/html",
                      page(lang, title, paragraphs).encode()))
    for i, (lang, title, paragraphs) in enumerate(rng.sample(articles, 20)):  # near copies: one sentence changed
        changed = paragraphs[:-1] + [sentence(rng, lang)]
        pages.append((f"https://aggregator.example.com/{lang}/{i}", "200 OK", "text/html; charset=utf-8",
                       page(lang, title, changed).encode()))
    for i in range(15):
        pages.append((f"https://shop.example.biz/deal/{i}", "200 OK", "text/html", spam_page(rng).encode()))
    for i, text in enumerate(["Page not found.", "Please log in to continue.", "Loading…", "Subscribe now!",
                              "Thank you for your order."] * 3):
        pages.append((f"https://tiny.example.org/p/{i}", "200 OK", "text/html",
                      f"<html><body><p>{text}</p></body></html>".encode()))
    for i in range(4):
        pages.append((f"https://img.example.org/{i}.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(200)))
    pages.append(("https://docs.example.org/report.pdf", "200 OK", "application/pdf", b"%PDF-1.4 binary"))
    for i in range(3):
        pages.append((f"https://gone.example.org/{i}", "404 Not Found", "text/html",
                      b"<html><body><h1>404</h1></body></html>"))
    rng.shuffle(pages)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in range(files):
        path = directory / f"crawl-{part:02d}.warc.gz"
        with open(path, "wb") as f:
            for i, (url, status, ctype, body) in enumerate(pages[part::files]):
                f.write(warc_record(url, start + timedelta(minutes=i), status, ctype, body))
        paths.append(path)
    return paths


def demo_texts(seed: int = 11, sentences: int = 4000) -> list[str]:
    """Sentences in the crawl's languages, to train the demo's tokenizer on."""
    rng = random.Random(seed)
    return [sentence(rng, lang) for _ in range(sentences // len(_PHRASES)) for lang in _PHRASES]
