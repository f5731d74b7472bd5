"""LLM-driven users and creators, and the backend they talk through.

* :mod:`~recarena.simulators.llm.config`: :class:`LLMConfig` (endpoint, decoding, retries,
  cache, prices, budget) and :class:`PriceTable`.
* :mod:`~recarena.simulators.llm.backend`: :class:`LLMBackend`, batches of
  :class:`LLMRequest` decided into validated pydantic values (:class:`LLMDecision`) through
  any OpenAI-compatible endpoint, with bounded retries, one repair, fallbacks, a budget.
* :mod:`~recarena.simulators.llm.cache`: the SQLite reply cache (replay without requests).
* :mod:`~recarena.simulators.llm.accounting`: :class:`Usage` (decisions, requests, tokens,
  cost) and the token estimate.

Names load lazily: ``import recarena.simulators.llm`` imports neither ``openai`` nor
``pydantic``; ``LLMConfig`` and ``PriceTable`` need neither.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "LLMBackend": "recarena.simulators.llm.backend",
    "LLMConfig": "recarena.simulators.llm.config",
    "LLMDecision": "recarena.simulators.llm.backend",
    "LLMRequest": "recarena.simulators.llm.backend",
    "PriceTable": "recarena.simulators.llm.config",
    "ReplyCache": "recarena.simulators.llm.cache",
    "Usage": "recarena.simulators.llm.accounting",
    "parse_reply": "recarena.simulators.llm.backend",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

# LLM-played users (issue 18 part 2): personas, prompts, memory, the user model
_EXPORTS.update({
    "LLMUserModel": "recarena.simulators.llm.users",
    "MovieLensPersonas": "recarena.simulators.llm.users",
    "TopicPersonas": "recarena.simulators.llm.users",
    "CatalogTexts": "recarena.simulators.llm.prompts",
    "SyntheticTexts": "recarena.simulators.llm.prompts",
    "UserDecision": "recarena.simulators.llm.prompts",
    "Persona": "recarena.simulators.llm.persona",
    "movielens_personas": "recarena.simulators.llm.persona",
    "read_personas": "recarena.simulators.llm.persona",
    "write_personas": "recarena.simulators.llm.persona",
    "RowMemory": "recarena.simulators.llm.memory",
})
__all__ = sorted(_EXPORTS)

# fidelity of LLM users and hybrid calibration (issue 18 part 4)
_EXPORTS.update({
    "FidelityReport": "recarena.simulators.llm.fidelity",
    "FidelitySample": "recarena.simulators.llm.fidelity",
    "evaluate_fidelity": "recarena.simulators.llm.fidelity",
    "movielens_fidelity_sample": "recarena.simulators.llm.fidelity",
    "validate_llm": "recarena.simulators.llm.fidelity",
    "ChoiceDecisions": "recarena.simulators.llm.calibrate",
    "DecisionCollector": "recarena.simulators.llm.calibrate",
    "HybridCalibration": "recarena.simulators.llm.calibrate",
    "calibrate_hybrid": "recarena.simulators.llm.calibrate",
    "decisions_from_log": "recarena.simulators.llm.calibrate",
    "fit_llm_choices": "recarena.simulators.llm.calibrate",
})
__all__ = sorted(_EXPORTS)

# LLM-played creators (issue 18, the creator part): CreAgent-style creators
_EXPORTS.update({
    "LLMCreators": "recarena.simulators.llm.creators",
    "CreatorDecision": "recarena.simulators.llm.creators",
    "CreatorItemTexts": "recarena.simulators.llm.creators",
})
__all__ = sorted(_EXPORTS)
