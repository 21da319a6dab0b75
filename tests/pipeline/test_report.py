"""The run report of a real run (demo crawl through every kind of stage, on the shared Spark session): sections and
plots from the run's own numbers, absent sections left out, and the page rendered by headless Chromium with no
console error and every plot loaded (screenshots kept under the test's tmp_path)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from curate.pipeline import config as pipeline_config  # noqa: E402
from curate.pipeline.commands.demo import _BANK, generate_crawl  # noqa: E402
from curate.pipeline.commands.report import REPORT_FILE, write_report  # noqa: E402
from curate.stages.heuristic import signal_thresholds  # noqa: E402
from curate.pipeline.run import run  # noqa: E402
from curate.pipeline.commands.tokenizer_train import train_bpe  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Plots a run with every kind of stage draws: each <img> of the page, a PNG beside it.
PLOTS = {"funnel", "languages", "language-funnel", "quality-gopher_quality", "toxicity", "dedup", "domains", "time"}
SECTIONS = {"summary", "funnel", "languages", "quality", "toxicity", "bias", "dedup", "domains", "time"}


def full_config(root: Path):
    generate_crawl(root / "crawl")
    texts = [" ".join(words) for bank in _BANK.values() for words in bank.values()] * 3
    train_bpe(texts, vocab_size=600).save(str(root / "tokenizer.json"))
    return pipeline_config.parse({
        "input": {"paths": [str(root / "crawl")], "dataset": "demo"}, "output": str(root / "out"),
        "stages": [
            {"name": "extract"},
            {"name": "langid", "languages": ["en", "de", "fr", "es"], "threshold": 0.65},
            {"name": "gopher_quality", "keep_signals": True},
            {"name": "toxicity", "languages": "all", "thresholds": {"profanity": 0.9}},
            {"name": "bias"},
            {"name": "exact_dedup"},
            {"name": "domain", "rules": [{"domain": "example-news.org", "label": "news"},
                                         {"domain": "aggregator.example.com", "label": "aggregator"}],
             "default": "web"},
            {"name": "tokenize", "tokenizer": str(root / "tokenizer.json"), "shard_tokens": 5000,
             "validation_fraction": 0.1},
            {"name": "balance", "weights": {"news": 0.6, "aggregator": 0.3, "web": 0.1}},
        ]})


@pytest.fixture(scope="module")
def full_run(spark, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    config = full_config(root)
    run(config)
    output = Path(config.output)
    return output, Path(write_report(str(output)))


def img_sources(page: str) -> list[str]:
    return re.findall(r'<img class="plot" src="([^"]+)"', page)


def test_report_has_every_section_and_plot_from_the_runs_numbers(full_run):
    output, page_path = full_run
    assert page_path == output / REPORT_FILE
    page = page_path.read_text()
    stats = json.loads((output / "stats.json").read_text())
    manifest = json.loads((output / "manifest.json").read_text())
    assert set(re.findall(r'<section id="([a-z]+)"', page)) == SECTIONS
    sources = img_sources(page)
    assert {Path(s).stem for s in sources} == PLOTS
    for source in sources:
        data = (page_path.parent / source).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page  # nothing from a network
    assert f'<td class="">input documents</td><td class="">{stats["input"]:,}</td>' in page
    for reason, count in stats["rejected"].items():
        assert f"<td class=\"\">{reason}</td><td class=\"num\">{count:,}</td>" in page
    for domain, info in manifest["domains"].items():
        assert f"<td class=\"\">{domain}</td><td class=\"num\">{info['documents']:,}</td>" \
               f"<td class=\"num\">{info['tokens']:,}</td>" in page
    assert "exact_dedup (global plan, wall)" in page and "balance (global plan, wall)" in page


def test_thresholds_come_from_the_stage_config():
    spec = {"id": "gopher_quality", "min_words": 50, "max_words": 100000, "max_hash_ratio": 0.1,
            "min_stop_words": 2, "keep_signals": True}
    assert signal_thresholds(spec, "word_count") == [(50.0, "min_words = 50"), (100000.0, "max_words = 100000")]
    assert signal_thresholds(spec, "hash_ratio") == [(0.1, "max_hash_ratio = 0.1")]
    assert signal_thresholds(spec, "stop_word_count") == [(2.0, "min_stop_words = 2")]
    assert signal_thresholds(spec, "bullet_line_fraction") == []


@pytest.mark.beam
def test_a_run_without_optional_stages_gets_only_its_sections(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.jsonl").write_text("".join(json.dumps({"text": f"document number {i} " * (i + 1)}) + "\n"
                                            for i in range(6)) + "not json\n")
    config = pipeline_config.parse({"input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(tmp_path / "o"),
                                    "engine": {"name": "beam"}, "stages": []})
    run(config)
    page = Path(write_report(config.output)).read_text()
    assert set(re.findall(r'<section id="([a-z]+)"', page)) == {"summary", "funnel"}
    assert {Path(s).stem for s in img_sources(page)} == {"funnel"}
    assert "read:invalid_json" in page


# ---------------------------------------------------------------- headless Chromium

_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.querySelectorAll("img.plot"));
  const loaded = images.filter(img => img.complete && img.naturalWidth > 0).map(img => img.getAttribute("src"));
  document.body.setAttribute("data-loaded", JSON.stringify(loaded));
});
</script>"""


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
         "--virtual-time-budget=5000", *extra, url],
        capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    """Chromium's log lines for page console output at error level and uncaught exceptions."""
    return [line for line in stderr.splitlines()
            if ("CONSOLE" in line and ("Uncaught" in line or "Error" in line or "Failed to load" in line))
            or "Uncaught" in line]


def loaded_images(page: Path, profile: Path) -> tuple[list[str], list[str]]:
    """(src of every plot image the browser decoded, console errors) for `page`, probed by a copy with a script."""
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    result = chromium(probe.as_uri(), profile, "--dump-dom")
    probe.unlink()
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = re.search(r'data-loaded="([^"]*)"', result.stdout)
    assert loaded, result.stdout[-2000:]
    return json.loads(loaded.group(1).replace("&quot;", '"')), console_errors(result.stderr)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_with_every_plot(full_run, tmp_path):
    _, page = full_run
    loaded, errors = loaded_images(page, tmp_path / "profile")
    assert errors == []
    assert {Path(s).stem for s in loaded} == PLOTS
    for name, height in (("report-top.png", 1800), ("report-full.png", 7000)):
        shot = chromium(page.as_uri(), tmp_path / "profile", f"--window-size=1300,{height}",
                        f"--screenshot={tmp_path / name}")
        assert shot.returncode == 0 and console_errors(shot.stderr) == []
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG") and (tmp_path / name).stat().st_size > 50_000
    print(f"screenshots: {tmp_path / 'report-top.png'}, {tmp_path / 'report-full.png'}")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_browser_check_sees_a_broken_page(tmp_path):
    """The check above can fail: a missing plot and a script error are both caught."""
    page = tmp_path / "report.html"
    page.write_text('<!DOCTYPE html><html><body><img class="plot" src="missing.png">'
                    "<script>undefinedFunction();</script></body></html>")
    loaded, errors = loaded_images(page, tmp_path / "profile")
    assert loaded == []
    assert any("Uncaught" in line and "undefinedFunction" in line for line in errors)
