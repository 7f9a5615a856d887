"""A complete third-party model plugin: describes the lesion by its mean colour.

Install it with `pip install ./examples/harness-example-plugin`, then
`harness list models` shows `mean-colour`, and
`harness run --model mean-colour --task vqa/demo` evaluates it.
docs/plugins.md walks through this file line by line.
"""

import time

from pydantic import Field

from harness import hookimpl
from harness.model import Model
from harness.options import Options
from harness.specs import ModelSpec

COLOURS = {"black": (40, 30, 35), "dark brown": (90, 55, 35), "light brown": (165, 115, 75),
           "tan": (195, 160, 120), "pink": (215, 130, 140)}


class MeanColourOptions(Options):
    """What `-M key=value` may set; the harness checks the values before any work."""

    delay: float = Field(0.0, ge=0, description="seconds to wait per sample (imitates a slow "
                                                "model)")
    # The delay never changes an answer: leave it out of the fingerprint, so changing it
    # on a resumed run re-asks nothing.
    runtime = ("delay",)


class MeanColour(Model):
    name = "mean-colour"
    capabilities = frozenset({"generate"})

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def identity(self):
        return {"name": self.name, "version": "0.2.0"}

    def generate(self, requests):
        from PIL import Image  # heavy imports inside methods or the factory, never at the top

        answers = []
        for req in requests:
            time.sleep(self.delay)
            with Image.open(req.images[0]) as im:
                w, h = im.size
                centre = im.convert("RGB").crop((w // 3, h // 3, 2 * w // 3, 2 * h // 3))
                r, g, b = (sum(c) / len(c) for c in zip(*centre.getdata(), strict=True))
            colour = min(COLOURS, key=lambda k: sum((x - y) ** 2 for x, y in
                                                   zip(COLOURS[k], (r, g, b), strict=True)))
            if req.choices:  # zero-shot: dark lesions are called melanoma, others the first choice
                dark = "melanoma" if colour in ("black", "dark brown") else req.choices[0]
                answers.append(next((c for c in req.choices if c.lower() == dark), req.choices[0]))
            else:
                answers.append(f"The lesion is {colour}.")
        return answers


def make(spec, context, options):
    """The factory: the harness hands it the spec, a LoadContext and the parsed options."""
    return MeanColour(delay=options.delay)


@hookimpl
def register_models(register):
    register(ModelSpec(name="mean-colour", factory=make, family="example",
                       capabilities=frozenset({"generate"}), options=MeanColourOptions,
                       description="names the lesion's mean colour (example plugin)"))
