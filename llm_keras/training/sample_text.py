"""Reading what the model writes while it trains (week 3, "Monitoring a run").

A loss of 2.5 or 1.9 means little until you see the text: ``SampleText`` generates a short
continuation of a prompt at the end of every epoch (every evaluation interval of
``llm-keras train``), prints it and appends it to a file. Early samples are random letters, then
words appear, then names and line breaks in the right places.
"""

from pathlib import Path

import keras


class SampleText(keras.callbacks.Callback):
    """Generates ``max_new_tokens`` after ``prompt`` at the end of every epoch.

    Args:
        tokenizer: turns the prompt into ids and the new ids into text.
        prompt: the text to continue (``"\\n"``: a new line, as nanoGPT's ``sample.py``).
        max_new_tokens: tokens to generate.
        temperature, top_k: sampling options of ``llm_keras.generation.generate``.
        seed: the sampling seed; the same at every epoch, so samples differ only through the
            model. Sampling never touches the training's random state.
        path: a text file the samples are appended to, or ``None``.
        generate: the function that generates, ``generate(model, prompt_ids, max_new_tokens,
            temperature=..., top_k=..., seed=...) -> new ids``; by default
            ``llm_keras.generation.generate``.
        print_fn: where each sample is shown (``print``; ``None`` to only write the file).

    Example:
        >>> model.fit(..., callbacks=[SampleText(tokenizer, "ROMEO:", 200)])
    """

    def __init__(
        self,
        tokenizer,
        prompt="\n",
        max_new_tokens=200,
        temperature=0.8,
        top_k=200,
        seed=0,
        path=None,
        generate=None,
        print_fn=print,
    ):
        super().__init__()
        if generate is None:
            from llm_keras.generation import generate
        self.tokenizer = tokenizer
        self.prompt_ids = tokenizer.encode(prompt)
        if not self.prompt_ids:
            raise ValueError("The sample prompt is empty: give at least one character ('\\n').")
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.options = {"temperature": temperature, "top_k": top_k, "seed": seed}
        self.path = None if path is None else Path(path)
        self.generate = generate
        self.print_fn = print_fn
        self.samples = []

    def on_epoch_end(self, epoch, logs=None):
        ids = self.generate(self.model, self.prompt_ids, self.max_new_tokens, **self.options)
        text = self.prompt + self.tokenizer.decode(ids)
        self.samples.append(text)
        steps = (epoch + 1) * self.params["steps"]
        report = f"--- sample after step {steps} ---\n{text}\n"
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(report)
        if self.print_fn is not None:
            self.print_fn(report)
