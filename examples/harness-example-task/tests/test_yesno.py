"""The example task kind keeps the task contract (harness.testing.check_task)."""

from harness.testing import check_task


def test_the_yes_no_task_keeps_the_contract() -> None:
    seen = check_task("yesno/demo-malignant", limit=6)
    assert seen["plan"].kind == "yesno" and seen["plan"].headline == "accuracy"
    assert all(r.choices == ("yes", "no") for r in seen["requests"])
    # the stand-in answers are each request's first choice: "yes" every time
    assert seen["scores"].overall["yes_rate"] == 1.0
