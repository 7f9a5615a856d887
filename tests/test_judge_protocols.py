"""The judge protocols: parsing each reply format, the LLaVA-Med rule against LLaVA-Med's own
summarize script (a fixture made by running it), the rule judge in every format, verdict keys."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from harness.judge.config import JudgeConfig, parse_pairs, parse_prices
from harness.judge.judging import call_key
from harness.judge.protocols import PROTOCOLS, RUBRIC_DIMENSIONS, Pair, ParseError, get
from harness.plugin_manager import get_registries
from harness.types import Request

FIXTURE = Path(__file__).parent / "oracle" / "llava-med-review"
PAIR = Pair("s1", "What is the lesion's colour?", "brown with a red rim", "brown",
            caption="clinical")


def test_llava_med_rule_equals_the_summarize_script_on_recorded_replies() -> None:
    """summarize_gpt_review.py (microsoft/LLaVA-Med) was run on these replies; the harness's
    parser and rule must give its table: per type, per domain and overall, the mean
    reference score, mean model score, mean of model/reference x 100, and the count."""
    expected = json.loads((FIXTURE / "expected.json").read_text())["table"]
    protocol = get("llava-med")
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for line in (FIXTURE / "replies.jsonl").read_text().splitlines():
        row = json.loads(line)
        parsed = protocol.parse("forward", row["gpt_eval"])
        # the swapped call is not in LLaVA-Med's data: the forward one stands in for it
        values = protocol.combine({"forward": parsed, "swapped": parsed})
        domain = next((d for d, on in row["domain"].items() if on), None)
        for group in (row["type"], "overall", domain):
            if group is not None:
                groups[group].append(values)
    assert set(groups) == set(expected)
    for group, want in expected.items():
        got = protocol.summarize(groups[group])
        assert got["reference_score"] == pytest.approx(want["gpt4_score"], abs=1e-12)
        assert got["model_score"] == pytest.approx(want["pred_score"], abs=1e-12)
        assert got["relative"] == pytest.approx(want["pred_relative_score"], abs=1e-9)
        assert len(groups[group]) == want["data_size"]


@pytest.mark.parametrize(("reply", "reason"), [
    ("", "not two scores"),
    ("8\nonly one score", "not two scores"),
    ("8 7 6\n", "not two scores"),
    ("eight seven\n", "not two numbers"),
    ("11 5\n", "outside 0-10"),
    ("0 5\n", "reference was rated 0"),
    ("I cannot rate medical answers.", "not two scores"),
])
def test_llava_med_unparseable_replies_name_their_reason(reply: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        get("llava-med").parse("forward", reply)


def test_llava_med_swapped_call_reads_the_scores_the_other_way_round() -> None:
    p = get("llava-med")
    assert p.parse("forward", "8 6\nwhy") == {"reference": 8.0, "model": 6.0}
    assert p.parse("swapped", "6 8\nwhy") == {"reference": 8.0, "model": 6.0}
    forward, swapped = p.calls(PAIR)
    assert forward.prompt.index(PAIR.reference) < forward.prompt.index("[Assistant 2]")
    assert swapped.prompt.index(PAIR.reference) > swapped.prompt.index("[Assistant 2]")
    values = p.combine({"forward": p.parse("forward", "8 6"), "swapped": p.parse("swapped", "8 6")})
    # the judge preferred whichever answer came first: bias and a flipped preference show it
    assert values["relative"] == 75.0 and values["relative_swapped"] == pytest.approx(8 / 6 * 100)
    assert values["position_bias"] < 0 and values["order_flip"] == 1.0


def test_binary_follows_medevalkit_codes_and_refuses_untagged_replies() -> None:
    p = get("binary")
    assert p.parse("single", "<think>same meaning</think>\n<judge>0</judge>") == {"correct": 1.0}
    assert p.parse("single", "<think>no</think><judge> 1 </judge>") == {"correct": 0.0}
    with pytest.raises(ParseError, match="no <judge>"):
        p.parse("single", "0")  # MedEvalKit would score this text as incorrect
    with pytest.raises(ParseError, match="neither 0 nor 1"):
        p.parse("single", "<judge>yes</judge>")
    (call,) = p.calls(PAIR)
    assert "The standard answer: brown with a red rim" in call.prompt
    assert "The user's answer: brown" in call.prompt


def test_rubric_needs_all_six_integer_dimensions() -> None:
    p = get("rubric")
    good = {d: 4 for d in RUBRIC_DIMENSIONS}
    values = p.combine({"single": p.parse("single", "Here: " + json.dumps(good))})
    assert values["rubric_mean"] == 4.0 and set(RUBRIC_DIMENSIONS) < set(values)
    with pytest.raises(ParseError, match="missing: safety"):
        p.parse("single", json.dumps({k: v for k, v in good.items() if k != "safety"}))
    with pytest.raises(ParseError, match="not an integer from 1 to 5"):
        p.parse("single", json.dumps({**good, "accuracy": 4.5}))
    with pytest.raises(ParseError, match="not an integer from 1 to 5"):
        p.parse("single", json.dumps({**good, "accuracy": 6}))
    with pytest.raises(ParseError, match="no JSON object"):
        p.parse("single", "four out of five")


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_rule_judge_answers_every_protocol_in_its_format(name: str) -> None:
    regs = get_registries()
    config = JudgeConfig("rule-judge", get(name), models=regs.models)
    judge = config.build()
    protocol = config.protocol
    perfect = Pair("a", "q?", "brown macule on the back", "brown macule on the back")
    wrong = Pair("b", "q?", "brown macule on the back", "red nodule")
    headline = {}
    for pair in (perfect, wrong):
        calls = protocol.calls(pair)
        replies = judge.generate([Request(pair.sample_id, c.prompt, system=c.system)
                                  for c in calls])
        parsed = {c.role: protocol.parse(c.role, r) for c, r in zip(calls, replies, strict=True)}
        headline[pair.sample_id] = protocol.combine(parsed)[protocol.headline]
    assert headline["a"] > headline["b"]
    assert judge.usage["prompt_tokens"] > 0 and config.identity["name"] == "rule-judge"
    assert isinstance(judge.generate([Request("x", "rate this")])[0], Exception)


def test_verdict_keys_change_with_judge_options_protocol_version_and_inputs() -> None:
    regs = get_registries()
    base = JudgeConfig("rule-judge", get("binary"), models=regs.models)
    other = JudgeConfig("rule-judge", get("binary"), {"threshold": "0.7"}, models=regs.models)
    call = get("binary").calls(PAIR)[0]
    key = call_key(base, call)
    assert call_key(other, call) != key
    assert call_key(base, get("binary").calls(Pair("s1", "q", "r", "another answer"))[0]) != key
    bumped = JudgeConfig("rule-judge", type(get("binary"))(**{**get("binary").__dict__,
                                                            "version": "2"}), models=regs.models)
    assert call_key(bumped, call) != key
    assert call_key(JudgeConfig("rule-judge", get("binary"), models=regs.models), call) == key


def test_option_text_is_checked_with_a_sentence() -> None:
    from harness.errors import UsageError

    assert parse_pairs("base_url=http://h:1/v1,model_id=m", "judge_options") == {
        "base_url": "http://h:1/v1", "model_id": "m"}
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_pairs("base_url", "judge_options")
    assert parse_prices("2.5,10") == (2.5, 10.0)
    with pytest.raises(UsageError, match="IN,OUT"):
        parse_prices("cheap")
    with pytest.raises(UsageError, match="is not one of"):
        get("pairwise")


def test_a_judge_is_checked_before_any_work() -> None:
    from types import SimpleNamespace

    from harness.errors import UsageError

    regs = get_registries()
    context = SimpleNamespace(models=regs.models, datasets=regs.datasets, seed=0)
    with pytest.raises(UsageError, match="cannot generate"):
        JudgeConfig.from_options("colour-lbp", None, None, None, context)
    with pytest.raises(UsageError, match="no-such-judge"):
        JudgeConfig.from_options("no-such-judge", None, None, None, context)
    with pytest.raises(UsageError, match="has no option -T judge_options thresh"):
        JudgeConfig.from_options("rule-judge", "thresh=0.2", None, None, context)
    with pytest.raises(UsageError, match="need -T judge=MODEL"):
        JudgeConfig.from_options(None, None, "binary", None, context)
    assert JudgeConfig.from_options(None, None, None, None, context) is None
    config = JudgeConfig.from_options("rule-judge", "threshold=0.2", "rubric", "1,2", context)
    assert config is not None and config.key()["options"] == {"threshold": 0.2}


def test_a_judge_declared_with_the_task_and_overridden_by_options() -> None:
    from harness.errors import UsageError
    from harness.plugin_manager import complete_task_spec, get_registries
    from harness.runner import build_task
    from harness.specs import JudgeSpec, TaskSpec

    regs = get_registries(refresh=True)
    spec = TaskSpec(name="vqa/demo-judged", kind="vqa", dataset="demo-vqa",
                    judge=JudgeSpec("rule-judge", "binary", {"threshold": "0.3"}))
    assert complete_task_spec(regs, spec) is None
    regs.tasks.add(spec)
    try:
        declared = build_task(regs, spec.name, {}).judge
        assert declared.name == "rule-judge" and declared.protocol.name == "binary"
        assert declared.parsed_options().threshold == 0.3
        # -T judge_options adds to the declared ones; -T judge_protocol replaces the protocol
        more = build_task(regs, spec.name, {"judge_protocol": "rubric",
                                            "judge_options": "threshold=0.6"}).judge
        assert more.protocol.name == "rubric" and more.parsed_options().threshold == 0.6
        assert more.digest != declared.digest  # other verdicts, never the declared ones'
        # another judge named on the command line takes none of the declared options
        other = build_task(regs, spec.name, {"judge": "rule-judge"}).judge
        assert other.options == {} and other.protocol.name == "binary"
        with pytest.raises(UsageError, match="threshold"):
            build_task(regs, spec.name, {"judge_options": "threshold=high"})
        # the plain task has no judge: the declaration is this spec's alone
        assert build_task(regs, "vqa/demo", {}).judge is None
    finally:
        regs.tasks.remove(spec.name)
