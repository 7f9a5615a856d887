"""A complete third-party model plugin: describes the lesion by its mean colour.

Install it with `pip install ./examples/harness-example-plugin`, then
`harness list models` shows `mean-colour`, and
`harness run --model mean-colour --task vqa/demo` evaluates it.
"""

import time

from harness import hookimpl
from harness.errors import UsageError
from harness.model import Model
from harness.specs import ModelSpec

COLOURS = {"black": (40, 30, 35), "dark brown": (90, 55, 35), "light brown": (165, 115, 75),
           "tan": (195, 160, 120), "pink": (215, 130, 140)}


class MeanColour(Model):
    name = "mean-colour"
    capabilities = frozenset({"generate"})

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds per sample, to imitate a slow model

    def identity(self):
        return {"name": self.name, "version": "0.1.0"}

    def generate(self, requests):
        from PIL import Image

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


def make(model_path=None, device="auto", seed=0, delay="0", **unknown):
    if unknown:
        raise UsageError(f"model 'mean-colour' has no option {', '.join(unknown)}")
    return MeanColour(delay=float(delay))


@hookimpl
def register_models(register):
    register(ModelSpec(name="mean-colour", factory=make, family="example",
                       capabilities=frozenset({"generate"}),
                       description="names the lesion's mean colour (example plugin)"))
