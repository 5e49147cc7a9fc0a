"""Greedy grammar sampling that checks the best tokens first gives exactly the tokens of llama-cpp-python's
own penalties -> grammar -> greedy chain (real SmolLM2 in process, real llama.cpp grammar)."""

from __future__ import annotations

import json

import pytest

from assistant.config import Settings
from assistant.llm import greedy_grammar

SCHEMA = {
    "type": "object",
    "properties": {str(i): {"type": "object", "additionalProperties": False, "required": ["n", "s"],
                            "properties": {"n": {"type": "string", "maxLength": 40},
                                           "s": {"type": "string", "enum": ["purpose", "risks", "actions"]}}}
                   for i in range(3)},
    "required": ["0", "1", "2"],
    "additionalProperties": False,
}
PROMPT = [{"role": "user", "content": "Notes as JSON for lines 0-2: the mother owes £1,386.40 rent; police came on "
                                      "1 March; the social worker will visit again on 12 May."}]


@pytest.fixture(scope="module")
def llm(session_settings: Settings):  # type: ignore[no-untyped-def]
    from llama_cpp import Llama

    from assistant.models import model_path

    model = Llama(model_path=str(model_path("smollm2-135m", session_settings.models_dir)), n_ctx=1024, n_threads=2,
                  logits_all=False, verbose=False, seed=1)
    yield model
    model.close()


def _reply(llm, **kw: object) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    from llama_cpp import LlamaGrammar

    llm.reset()
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    out = llm.create_chat_completion(PROMPT, max_tokens=160, temperature=0.0, grammar=grammar, **kw)
    return out["choices"][0]["message"]["content"], llm._sampler


@pytest.mark.parametrize("repeat_penalty", [1.0, 1.1])
def test_same_tokens_as_the_full_chain(llm, monkeypatch: pytest.MonkeyPatch, repeat_penalty: float) -> None:  # type: ignore[no-untyped-def]
    from llama_cpp import Llama

    chain_text, chain_sampler = _reply(llm, repeat_penalty=repeat_penalty)
    assert not isinstance(chain_sampler, greedy_grammar.GreedyGrammarSampler)
    monkeypatch.setattr(Llama, "_init_sampler", Llama._init_sampler)  # undone after the test
    greedy_grammar.install()
    fast_text, fast_sampler = _reply(llm, repeat_penalty=repeat_penalty)
    assert isinstance(fast_sampler, greedy_grammar.GreedyGrammarSampler)
    assert fast_text == chain_text
    assert set(json.loads(fast_text)) == {"0", "1", "2"}


def test_fallback_pass_when_no_early_candidate_is_allowed(llm, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """With only the single best token tried first, the grammar often refuses it (the schema forces a key
    or a closing quote): the full-vocabulary pass must then pick what the chain would."""
    from llama_cpp import Llama

    chain_text, _ = _reply(llm)
    monkeypatch.setattr(Llama, "_init_sampler", Llama._init_sampler)
    monkeypatch.setattr(greedy_grammar, "TRY_FIRST", 1)
    greedy_grammar.install()
    fast_text, sampler = _reply(llm)
    assert sampler.full_passes > 0
    assert fast_text == chain_text


def test_sampling_at_a_temperature_keeps_the_library_chain(llm, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from llama_cpp import Llama, LlamaGrammar

    monkeypatch.setattr(Llama, "_init_sampler", Llama._init_sampler)
    greedy_grammar.install()
    llm.reset()
    llm.create_chat_completion(PROMPT, max_tokens=8, temperature=0.7,
                               grammar=LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False))
    assert not isinstance(llm._sampler, greedy_grammar.GreedyGrammarSampler)
