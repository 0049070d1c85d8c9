"""A chat with a fine-tuned or aligned model: the page ``llm-keras serve`` shows for a chat run (week 7).

A run of ``llm-keras sft`` (and of the alignment commands after it) has a ``ChatTokenizer``: its
model answers in the chat template of week 6 instead of continuing a text. Its page is a chat.
At each turn the whole conversation is written in the template (``format_chat``), and the model
writes the next answer after ``<|assistant|>``:

    you    47+8   model reads  <|user|>47+8<|end|><|assistant|>
    model  55                  and writes 55<|end|>
    you    55-7   model reads  <|user|>47+8<|end|><|assistant|>55<|end|>
                               <|user|>55-7<|end|><|assistant|>
    model  48                  and writes 48<|end|>

The answer is streamed as the tokens come (``generation.stream_ids``, the week 4 decoder with
its KV cache), decoded piece by piece (``generation.IncrementalDecoder``).

**Where an answer ends.** At ``<|end|>``: the decoder's ``end_token_id``, never shown. A model
that writes ``<|user|>`` or ``<|assistant|>`` (or the base's ``<|endoftext|>``) instead has
started another turn on its own; the answer stops there too. (Kept, that text would put a
special token inside an answer of the next turn's chat, which ``format_example`` refuses.)

**A conversation longer than the context.** The model reads at most ``context_length`` tokens.
Before each answer, the oldest turns are left out until the chat and the answer's
``max_new_tokens`` fit in the context: the model sees the most recent turns and the new message,
and the page says how many turns it no longer sees. A message longer than the context on its own
is refused.

**The conversation is kept as written.** The page keeps the turns as the visitor typed them and as
the model wrote them (a ``gr.State``), not as the chat box shows them: Gradio's ``Chatbot``
tidies what it displays (``inspect.cleandoc``: leading spaces and blank lines go), and the model
must read its own answers unchanged.

Everything else is the week 4 demo's (``app``): the same settings, server-side limits
(``DemoLimits``, ``check_request``), queue, errors as messages, and offline launch
(``launch_demo``).
"""

from __future__ import annotations

import itertools

from llm_keras.serving.app import (
    DemoError,
    DemoLimits,
    check_request,
    errors_as_messages,
    model_summary,
    sampling_controls,
)


def fit_conversation(tokenizer, turns, message, max_tokens):
    """The chat of ``message`` after as many of the most recent ``turns`` as fit.

    Args:
        tokenizer: a ``ChatTokenizer``.
        turns: ``(user, assistant)`` pairs of strings, oldest first.
        message: the user's new text.
        max_tokens: the most ids the chat may have; the message's own chat is kept even when it
            is longer.

    Returns:
        ``(ids, left_out)``: ``ids`` is ``format_chat(tokenizer, turns[left_out:], message)[0]``,
        ``left_out`` the number of oldest turns that did not fit.
    """
    from llm_keras.finetuning.chat_template import format_chat

    turns = list(turns)
    ids, kept = format_chat(tokenizer, [], message)[0], 0
    while kept < len(turns):
        longer = format_chat(tokenizer, turns[len(turns) - kept - 1 :], message)[0]
        if len(longer) > max_tokens:
            break
        ids, kept = longer, kept + 1
    return ids, len(turns) - kept


def chat_reply(
    model, tokenizer, turns, message, max_new_tokens, temperature, top_k, top_p, seed, limits
):
    """Start the model's answer to ``message`` after the conversation ``turns``.

    Everything is checked before this returns: the settings against ``limits``
    (``check_request``), the message (characters the tokenizer knows, no special token's text,
    at most ``context_length`` tokens in the template).

    Returns:
        ``(left_out, answers)``: the number of oldest turns left out to fit the context
        (``fit_conversation``), and a generator of the answer so far, longer at each step. The
        answer stops at the end token (not part of it) or at any other special token.

    Raises:
        DemoError: the message says what to change.
    """
    from llm_keras.generation import IncrementalDecoder, stream_ids

    max_new_tokens, options = check_request(
        message, max_new_tokens, temperature, top_k, top_p, seed, limits, name="message"
    )
    context = model.config.context_length
    try:
        ids, left_out = fit_conversation(tokenizer, turns, message, context - max_new_tokens)
        if len(ids) > context:
            raise DemoError(
                f"The message takes {len(ids)} tokens in the chat template; this model reads at "
                f"most {context}. Shorten it."
            )
        token_ids = stream_ids(model, ids, max_new_tokens, end_token_id=tokenizer.end_id, **options)
    except DemoError:
        raise
    except ValueError as error:  # the library's errors name the problem: pass them on
        raise DemoError(str(error)) from None
    stops = set(tokenizer.special_tokens.values())
    return left_out, _answer_so_far(token_ids, IncrementalDecoder(tokenizer), stops)


def _answer_so_far(token_ids, decoder, stops):
    answer = ""
    for token_id in token_ids:
        if token_id in stops:  # the model started another turn: the answer ends here
            break
        piece = decoder.add(token_id)
        if piece:
            answer += piece
            yield answer
    rest = decoder.finish()
    if rest:
        yield answer + rest


def chat_messages(turns):
    """``(user, assistant)`` turns as the ``gr.Chatbot``'s messages (``role``, ``content``)."""
    messages = []
    for user, assistant in turns:
        messages.append({"role": "user", "content": user})
        if assistant:  # an empty answer is not shown as an empty bubble
            messages.append({"role": "assistant", "content": assistant})
    return messages


def build_chat_demo(
    model, tokenizer, limits: DemoLimits | None = None, *, title="llm-keras: chat with the model"
):
    """The Gradio ``Blocks`` chat for ``model`` and its ``ChatTokenizer`` (queue set, not launched).

    Components have ids for tests and styling: ``#chatbot`` (the conversation), ``#message``,
    ``#send``, ``#clear``, and the settings of the week 4 demo (``#max-new-tokens``,
    ``#temperature``, ``#top-k``, ``#top-p``, ``#seed``). Launch it with ``launch_demo``.
    """
    import gradio as gr

    limits = limits or DemoLimits()
    context = model.config.context_length

    def respond(message, turns, max_new_tokens, temperature, top_k, top_p, seed):
        """Yield (chat box, turns, message box) as the answer streams."""
        left_out, answers = chat_reply(
            model, tokenizer, turns, message, max_new_tokens, temperature, top_k, top_p, seed,
            limits,
        )  # fmt: skip
        if left_out:
            turns_left_out = "turn" if left_out == 1 else f"{left_out} turns"
            gr.Info(
                f"The conversation is longer than the model's context ({context} tokens): it "
                f"no longer sees the first {turns_left_out}."
            )
        for answer in itertools.chain([""], answers):  # the message at once, then the answer
            now = [*turns, (message, answer)]
            yield chat_messages(now), now, ""

    def reply(message, turns, *settings):
        yield from errors_as_messages(respond(message, turns, *settings))

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(
            f"## {title}\n{model_summary(model)} It answers in the chat template: your message "
            "becomes `<|user|>message<|end|><|assistant|>`, after the turns before it, and the "
            f"model writes until `<|end|>`. It reads at most {context} tokens: in a longer "
            "conversation it sees the most recent turns only (the page says when)."
        )
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                # The text as written (no Markdown); no "share" button (it posts to a hub).
                chatbot = gr.Chatbot(
                    label="Conversation", height=360, elem_id="chatbot", render_markdown=False,
                    feedback_options=None, buttons=["copy", "copy_all"],
                )  # fmt: skip
                message = gr.Textbox(
                    label="Message", placeholder="47+8", elem_id="message",
                    info=f"At most {limits.max_prompt_chars} characters; Enter sends it.",
                )  # fmt: skip
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="send")
                    clear = gr.Button("New conversation", elem_id="clear")
            with gr.Column(scale=2):
                settings = sampling_controls(limits, model.config.vocab_size, length=100)
        inputs = [message, turns, *settings]
        outputs = [chatbot, turns, message]
        send.click(reply, inputs, outputs, api_name="chat")
        message.submit(reply, inputs, outputs, api_name=False)
        clear.click(lambda: ([], [], ""), None, outputs, api_name=False, queue=False)
        chatbot.clear(list, None, turns, api_name=False, queue=False)  # its bin icon
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    return demo
