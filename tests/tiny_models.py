"""Tiny, untrained NeMo ASR models built offline from config, for tests.

Usage::

    from tests.tiny_models import build_tiny_model
    path = build_tiny_model("tdt", tmp_path)          # -> tmp_path / "tiny-tdt.nemo"
    model = ASRModel.restore_from(str(path), map_location="cpu")

Kinds (all: 16 kHz, 64 mels, window_stride 0.01, FastConformer-style encoder
with dw_striding x8 -> one encoder frame = 0.08 s, 2 layers, d_model 64,
SentencePiece unigram tokenizer with 48 pieces):
    "ctc"    -> EncDecCTCModelBPE
    "rnnt"   -> EncDecRNNTBPEModel
    "tdt"    -> EncDecRNNTBPEModel with TDT loss/decoding (durations TDT_DURATIONS)
    "hybrid" -> EncDecHybridRNNTCTCBPEModel (RNNT head active by default)

Everything is deterministic (fixed word list, fixed seed) and offline.
By default (``emit_token="nine"``) the output layer is biased so that every
kind emits non-empty text with word timestamps for any audio; ``BLANK`` gives
always-empty output; ``None`` keeps the random init (garbage output).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

KINDS = ("ctc", "rnnt", "tdt", "hybrid")
TDT_DURATIONS = [0, 1, 2, 3, 4]
SAMPLE_RATE = 16000
WINDOW_STRIDE = 0.01
SUBSAMPLING_FACTOR = 8
N_MELS = 64
D_MODEL = 64
VOCAB_SIZE = 48
SEED = 1234

# Word the output layer is biased towards; must be a single piece ("▁nine")
# in the tiny tokenizer so the decoded text is a real word, not a bare "▁".
DEFAULT_EMIT_WORD = "nine"

_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
    "sixty seventy eighty ninety hundred thousand million"
).split()
_COMMON_WORDS = (
    "the be to of and a in that have it for not on with he as you do at this but his "
    "by from they we say her she or an will my all would there their what so up out if "
    "about who get which go me when make can like time no just him know take people into "
    "year your good some could them see other than then now look only come its over think "
    "also back after use how our work first well way even new want because any these give "
    "day most us hello world yes speech test audio model sound voice word"
).split()


def tokenizer_corpus() -> List[str]:
    """Deterministic training lines for the tiny tokenizer (a few hundred words)."""
    words = _NUMBER_WORDS + _COMMON_WORDS
    lines = []
    # A few passes with different strides give varied, deterministic sentences.
    for stride in (1, 3, 7, 11):
        seq = [words[(i * stride) % len(words)] for i in range(len(words))]
        for start in range(0, len(seq), 12):
            lines.append(" ".join(seq[start : start + 12]))
    lines.extend(str(n) for n in range(100))
    return lines


def build_tokenizer(out_dir: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    """Train (once) a small SentencePiece unigram tokenizer under ``out_dir/tokenizer``.

    Returns the tokenizer directory (contains tokenizer.model, tokenizer.vocab,
    vocab.txt), suitable for ``{"dir": str(path), "type": "bpe"}``.
    Re-uses an existing tokenizer in that directory.
    """
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    tok_dir = Path(out_dir) / "tokenizer"
    if (tok_dir / "tokenizer.model").exists() and (tok_dir / "vocab.txt").exists():
        return tok_dir
    tok_dir.mkdir(parents=True, exist_ok=True)
    corpus = tok_dir / "corpus.txt"
    corpus.write_text("\n".join(tokenizer_corpus()) + "\n", encoding="utf-8")
    # sentencepiece logs training progress to stderr from C++; nothing to silence cheaply.
    create_spt_model(
        str(corpus),
        vocab_size=vocab_size,
        sample_size=-1,
        do_lower_case=True,
        tokenizer_type="unigram",
        output_dir=str(tok_dir),
    )
    return tok_dir


def _preprocessor_cfg() -> Dict[str, Any]:
    return {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": SAMPLE_RATE,
        "normalize": "per_feature",
        "window_size": 0.025,
        "window_stride": WINDOW_STRIDE,
        "window": "hann",
        "features": N_MELS,
        "n_fft": 512,
        "log": True,
        "frame_splicing": 1,
        "dither": 0.0,
        "pad_to": 0,
        "pad_value": 0.0,
    }


def _encoder_cfg() -> Dict[str, Any]:
    # FastConformer-style: dw_striding x8, tiny width/depth.
    return {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": N_MELS,
        "feat_out": -1,
        "n_layers": 2,
        "d_model": D_MODEL,
        "subsampling": "dw_striding",
        "subsampling_factor": SUBSAMPLING_FACTOR,
        "subsampling_conv_channels": 32,
        "causal_downsampling": False,
        "ff_expansion_factor": 2,
        "self_attention_model": "rel_pos",
        "n_heads": 2,
        "att_context_size": [-1, -1],
        "xscaling": True,
        "untie_biases": True,
        "pos_emb_max_len": 5000,
        "conv_kernel_size": 9,
        "conv_norm_type": "batch_norm",
        "dropout": 0.0,
        "dropout_pre_encoder": 0.0,
        "dropout_emb": 0.0,
        "dropout_att": 0.0,
    }


def _ds_cfg(shuffle: bool) -> Dict[str, Any]:
    # No data: defer_setup keeps ModelPT.__init__ from building loaders, but the
    # sections must exist (transcribe() reads cfg.validation_ds.use_start_end_token).
    return {
        "manifest_filepath": None,
        "sample_rate": SAMPLE_RATE,
        "batch_size": 2,
        "shuffle": shuffle,
        "num_workers": 0,
        "pin_memory": False,
        "use_start_end_token": False,
        "defer_setup": True,
    }


def _ctc_decoder_cfg() -> Dict[str, Any]:
    return {
        "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
        "feat_in": D_MODEL,
        "num_classes": -1,
        "vocabulary": [],
    }


def _rnnt_parts(tdt: bool, max_symbols: int) -> Dict[str, Any]:
    pred_hidden = 64
    joint_hidden = 64
    parts: Dict[str, Any] = {
        "model_defaults": {"enc_hidden": D_MODEL, "pred_hidden": pred_hidden, "joint_hidden": joint_hidden},
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {"pred_hidden": pred_hidden, "pred_rnn_layers": 1, "t_max": None, "dropout": 0.0},
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": False,
            "fused_batch_size": 2,
            "jointnet": {
                "joint_hidden": joint_hidden,
                "activation": "relu",
                "dropout": 0.0,
                "encoder_hidden": D_MODEL,
                "pred_hidden": pred_hidden,
            },
        },
        "decoding": {"strategy": "greedy_batch", "greedy": {"max_symbols": max_symbols}},
    }
    if tdt:
        parts["joint"]["num_extra_outputs"] = len(TDT_DURATIONS)
        parts["decoding"]["model_type"] = "tdt"
        parts["decoding"]["durations"] = list(TDT_DURATIONS)
        parts["loss"] = {
            "loss_name": "tdt",
            "tdt_kwargs": {"fastemit_lambda": 0.0, "clamp": -1.0, "durations": list(TDT_DURATIONS), "sigma": 0.02, "omega": 0.1},
        }
    else:
        # Pure-PyTorch loss: avoids numba JIT at construction time.
        parts["loss"] = {"loss_name": "pytorch"}
    return parts


def tiny_model_config(kind: str, tokenizer_dir: Path, *, max_symbols: int = 10) -> Dict[str, Any]:
    """Plain-dict model config for ``kind`` (see module docstring).

    ``max_symbols``: RNNT/TDT greedy decoding's cap on symbols per encoder frame.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    cfg: Dict[str, Any] = {
        "sample_rate": SAMPLE_RATE,
        "log_prediction": False,
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "preprocessor": _preprocessor_cfg(),
        "spec_augment": None,
        "encoder": _encoder_cfg(),
        "train_ds": _ds_cfg(shuffle=True),
        "validation_ds": _ds_cfg(shuffle=False),
        "test_ds": None,
        "optim": None,
    }
    if kind == "ctc":
        cfg["decoder"] = _ctc_decoder_cfg()
        cfg["decoding"] = {"strategy": "greedy_batch"}
    else:
        cfg.update(_rnnt_parts(tdt=(kind == "tdt"), max_symbols=max_symbols))
        if kind == "hybrid":
            cfg["aux_ctc"] = {
                "ctc_loss_weight": 0.3,
                "use_cer": False,
                "ctc_reduction": "mean_batch",
                "decoder": _ctc_decoder_cfg(),
                "decoding": {"strategy": "greedy_batch"},
            }
    return cfg


_MODEL_CLASSES = {
    "ctc": "EncDecCTCModelBPE",
    "rnnt": "EncDecRNNTBPEModel",
    "tdt": "EncDecRNNTBPEModel",
    "hybrid": "EncDecHybridRNNTCTCBPEModel",
}


def model_class(kind: str):
    """The NeMo class that ``build_tiny_model(kind, ...)`` instantiates."""
    import nemo.collections.asr.models as asr_models

    return getattr(asr_models, _MODEL_CLASSES[kind])


@contextlib.contextmanager
def _quiet_nemo():
    """Lower NeMo's logger to ERROR while building (it is very chatty)."""
    from nemo.utils import logging as nemo_logging

    old = nemo_logging.get_verbosity()
    nemo_logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        nemo_logging.set_verbosity(old)


def _bias_output(model, kind: str, index: int, strength: float) -> None:
    """Push the output layer's bias towards class ``index`` (a token id, or the blank).

    Token, CTC: every frame argmaxes to the token, so greedy CTC collapses the run
    into ONE token -> one word whose NeMo offsets are start_offset=end_offset=0
    (NeMo's CTC offsets end at the frame where a token is first emitted).
    Token, RNNT: the joint always prefers the token; with greedy max_symbols=1
    (set by build_tiny_model) that is exactly one word per encoder frame
    (80 ms): word i has offsets [i, i+1].
    Token, TDT: token plus duration 1 is favoured -> again one word per frame.
    Token, hybrid: as RNNT (its default decoder); the aux CTC head as CTC.
    Blank: every kind decodes to an empty hypothesis.
    """
    import torch

    with torch.no_grad():
        if kind == "ctc":
            model.decoder.decoder_layers[-1].bias[index] += strength
            return
        joint_out = model.joint.joint_net[-1]
        n_labels = model.joint.num_classes_with_blank - model.joint.num_extra_outputs
        joint_out.bias[index] += strength
        if kind == "tdt":
            # durations [0,1,2,3,4]: favour "1" so every step advances one frame.
            joint_out.bias[n_labels + TDT_DURATIONS.index(1)] += strength
        if kind == "hybrid":
            model.ctc_decoder.decoder_layers[-1].bias[index] += strength


BLANK = "<blank>"


def build_tiny_model(
    kind: str,
    out_dir: Path,
    *,
    emit_token: Optional[str] = DEFAULT_EMIT_WORD,
    bias_strength: float = 20.0,
    seed: int = SEED,
    filename: Optional[str] = None,
) -> Path:
    """Build a tiny untrained NeMo model of ``kind`` and save it as ``out_dir/tiny-<kind>.nemo``.

    ``emit_token``:
      * a word that is a single piece of the tiny tokenizer ("nine" (default),
        "the", "eight", "no", ...): the output layer is biased towards it, so
        decoding always yields non-empty text and word timestamps, independent
        of the audio (see ``_bias_output`` for the exact pattern per kind);
      * ``BLANK`` ("<blank>"): biased towards blank -> always empty hypotheses;
      * ``None``: random init only; output is arbitrary garbage (depends on the
        seed and the audio; not guaranteed non-empty).
    ``filename``: override the output file name (default ``tiny-<kind>.nemo``).
    The tokenizer is trained once into ``out_dir/tokenizer`` and re-used.
    Returns the path of the ``.nemo`` file (~1-1.2 MB).
    """
    import torch

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok_dir = build_tokenizer(out_dir)
    # A token-biased RNNT always prefers a token; cap it at one per frame.
    biased_to_token = bool(emit_token) and emit_token != BLANK
    cfg = tiny_model_config(kind, tok_dir, max_symbols=1 if biased_to_token else 10)

    from omegaconf import OmegaConf

    cls = model_class(kind)
    with _quiet_nemo():
        torch.manual_seed(seed)
        model = cls(cfg=OmegaConf.create(cfg))
        model.eval()
        if emit_token == BLANK:
            _bias_output(model, kind, len(model.tokenizer.vocab), bias_strength)
        elif emit_token:
            ids = model.tokenizer.text_to_ids(emit_token)
            if len(ids) != 1:
                raise ValueError(f"emit_token {emit_token!r} must be one tokenizer piece, got ids {ids}")
            _bias_output(model, kind, ids[0], bias_strength)
        path = out_dir / (filename or f"tiny-{kind}.nemo")
        model.save_to(str(path))
    return path


PROMPT_LANGUAGES = {"en-US": 0, "de-DE": 1, "es-ES": 2, "fr-FR": 3}
"""The prompt dictionary of :func:`build_tiny_prompt_transducer`: language code -> prompt index."""


def build_tiny_prompt_transducer(out_dir: Path, *, seed: int = SEED) -> Path:
    """A tiny multilingual transducer conditioned on a language id (``EncDecRNNTBPEModelWithPrompt``, as NVIDIA's
    prompt-conditioned multilingual parakeet models): the tiny RNNT with a :data:`PROMPT_LANGUAGES` prompt
    dictionary, whose one-hot prompt is joined to the encoder output by its ``prompt_kernel``. Biased like the tiny
    RNNT, it says "nine" once per frame in any language. Returns its ``.nemo`` path."""
    import torch
    from nemo.collections.asr.models import EncDecRNNTBPEModelWithPrompt
    from omegaconf import OmegaConf

    out_dir = Path(out_dir)
    cfg = tiny_model_config("rnnt", build_tokenizer(out_dir), max_symbols=1)
    cfg["model_defaults"].update(prompt_dictionary=dict(PROMPT_LANGUAGES), num_prompts=len(PROMPT_LANGUAGES),
                                 initialize_prompt_feature=True)
    with _quiet_nemo():
        torch.manual_seed(seed)
        model = EncDecRNNTBPEModelWithPrompt(cfg=OmegaConf.create(cfg))
        model.eval()
        _bias_output(model, "rnnt", model.tokenizer.text_to_ids(DEFAULT_EMIT_WORD)[0], 20.0)
        path = out_dir / "tiny-prompt-rnnt.nemo"
        model.save_to(str(path))
    return path


def build_tiny_sortformer(
    out_dir: Path, *, speakers: int = 2, session_len_s: float = 20.0, seed: int = SEED,
    active_speaker: Optional[int] = 0, filename: Optional[str] = None, window_s: Optional[float] = None,
    streaming: bool = False, settings: Optional[dict] = None,
) -> Path:
    """Build a tiny untrained NeMo Sortformer diarizer (``SortformerEncLabelModel``, random weights) from the demo
    diarizer's config made small: 1 Conformer layer and 1 Transformer layer of width 32, ``speakers`` outputs, and a
    ``session_len_s`` window (so that long files are diarized in several windows).

    ``active_speaker``: the output layer is biased so that this speaker talks all the time and the others never
    (a known answer through the real ``diarize()``); ``-1``: nobody ever talks; ``None`` leaves the random weights'
    arbitrary output. ``window_s``: the window it asks to be diarized in (``diarization_window_sec``), when not its
    session length. ``streaming``: a streaming model (``streaming_mode`` in its config, as
    ``nvidia/diar_streaming_sortformer_4spk-v2``), which diarizes a window chunk by chunk with a speaker cache.
    ``settings``: more keys for its config (how the engine runs it, such as ``diarization_voice_clusters``).
    Returns its ``.nemo`` path."""
    import torch
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    from demo_model.train_diarizer import model_config

    cfg = model_config()
    width = 32
    cfg.update(max_num_of_spks=speakers, session_len_sec=session_len_s, model_defaults={"fc_d_model": width, "tf_d_model": width})
    if window_s is not None:
        cfg["diarization_window_sec"] = window_s
    cfg["streaming_mode"] = streaming
    cfg.update(settings or {})
    cfg["sortformer_modules"].update(num_spks=speakers, fc_d_model=width, tf_d_model=width)
    cfg["encoder"].update(d_model=width, n_layers=1, n_heads=2, subsampling_conv_channels=16)
    cfg["transformer_encoder"].update(hidden_size=width, inner_size=2 * width, num_layers=1, num_attention_heads=2)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _quiet_nemo():
        torch.manual_seed(seed)
        model = SortformerEncLabelModel(cfg=OmegaConf.create(cfg))
        model.eval()
        if active_speaker is not None:
            with torch.no_grad():
                bias = model.sortformer_modules.single_hidden_to_spks.bias
                bias -= 20.0
                if active_speaker >= 0:
                    bias[active_speaker] += 40.0
        path = out_dir / (filename or f"tiny-sortformer-{speakers}spk.nemo")
        model.save_to(str(path))
    return path


__all__ = [
    "BLANK",
    "KINDS",
    "TDT_DURATIONS",
    "SAMPLE_RATE",
    "SUBSAMPLING_FACTOR",
    "WINDOW_STRIDE",
    "build_tiny_model",
    "build_tiny_sortformer",
    "build_tokenizer",
    "model_class",
    "tiny_model_config",
    "tokenizer_corpus",
]


CANARY_LANGUAGES = ("en", "de", "es", "fr")
CANARY2_SPECIAL_TOKENS = (
    "<|endoftext|> <|startoftranscript|> <|nopnc|> <|pnc|> <|nospeech|> <|startofcontext|> <|itn|> <|noitn|> "
    "<|timestamp|> <|notimestamp|> <|diarize|> <|nodiarize|> <|emo:undefined|> <|emo:neutral|> <|emo:happy|> "
    "<|emo:sad|> <|emo:angry|> <|unklang|>"
).split()
CANARY_SPECIAL_TOKENS = "<|endoftext|> <|startoftranscript|> <|transcribe|> <|translate|> <|nopnc|> <|pnc|> <|nospeech|>".split()
CANARY_FRAME_TOKENS = 64
CANARY_PROMPT_DEFAULTS = {
    "canary2": {"decodercontext": "", "emotion": "<|emo:undefined|>", "source_lang": "en", "target_lang": "en",
                "pnc": "yes", "itn": "no", "timestamp": "no", "diarize": "no"},
    "canary": {"source_lang": "en", "target_lang": "en", "task": "asr", "pnc": "yes"},
}


def _canary_tokenizers(out_dir: Path, prompt_format: str) -> Dict[str, Any]:
    """The aggregate tokenizer's parts: special tokens for the prompt format, one small SentencePiece per language."""
    from nemo.collections.common.tokenizers.canary_tokenizer import CanaryTokenizer
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    special = list(CANARY2_SPECIAL_TOKENS if prompt_format == "canary2" else CANARY_SPECIAL_TOKENS)
    if prompt_format == "canary2":
        special += [f"<|{frame}|>" for frame in range(CANARY_FRAME_TOKENS)]
    special += [f"<|{lang}|>" for lang in CANARY_LANGUAGES]
    special_dir = out_dir / f"canary-special-{prompt_format}"
    CanaryTokenizer.build_special_tokenizer(special, special_dir, force_rebuild=True)
    langs: Dict[str, Any] = {"spl_tokens": {"dir": str(special_dir), "type": "bpe"}}
    for lang in CANARY_LANGUAGES:
        folder = out_dir / f"canary-tokenizer-{lang}"
        if not (folder / "tokenizer.model").exists():
            folder.mkdir(parents=True, exist_ok=True)
            corpus = folder / "corpus.txt"
            corpus.write_text("\n".join(tokenizer_corpus()) + "\n", encoding="utf-8")
            create_spt_model(str(corpus), vocab_size=64, sample_size=-1, do_lower_case=False,
                             tokenizer_type="unigram", output_dir=str(folder))
        langs[lang] = {"dir": str(folder), "type": "bpe"}
    return langs


def tiny_canary_config(out_dir: Path, prompt_format: str) -> Dict[str, Any]:
    """An ``EncDecMultiTaskModel`` config: 1 Conformer layer and 1 Transformer decoder layer of width 64."""
    encoder = _encoder_cfg()
    encoder["n_layers"] = 1
    layer = {"ffn_dropout": 0.0, "attn_score_dropout": 0.0, "attn_layer_dropout": 0.0}
    return {
        "sample_rate": SAMPLE_RATE,
        "prompt_format": prompt_format,
        "prompt_defaults": [{"role": "user", "slots": CANARY_PROMPT_DEFAULTS[prompt_format]}],
        "restore_timestamps_model": False,
        "model_defaults": {"asr_enc_hidden": D_MODEL, "lm_enc_hidden": D_MODEL, "lm_dec_hidden": D_MODEL},
        "tokenizer": {
            "dir": None, "type": "agg", "langs": _canary_tokenizers(out_dir, prompt_format),
            "custom_tokenizer": {"_target_": "nemo.collections.common.tokenizers.canary_tokenizer.CanaryTokenizer",
                                 "tokenizers": None},
        },
        "preprocessor": _preprocessor_cfg(),
        "encoder": encoder,
        "transf_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": 0, "hidden_size": D_MODEL, "inner_size": 2 * D_MODEL, "num_attention_heads": 2,
            "mask_future": False, "pre_ln": True, "pre_ln_final_layer_norm": True, **layer,
        },
        "transf_decoder": {
            "_target_": "nemo.collections.asr.modules.transformer.get_nemo_transformer",
            "model_name": None, "pretrained": False, "encoder": None, "pre_ln_final_layer_norm": True,
            "config_dict": {
                "max_sequence_length": 128, "num_token_types": 0, "embedding_dropout": 0.0,
                "learn_positional_encodings": False, "hidden_size": D_MODEL, "inner_size": 2 * D_MODEL,
                "num_layers": 1, "num_attention_heads": 2, "hidden_act": "relu", "pre_ln": True,
                "vocab_size": "None", **layer,
            },
        },
        "head": {"_target_": "nemo.collections.asr.parts.submodules.token_classifier.TokenClassifier",
                 "num_layers": 1, "activation": "relu", "log_softmax": True, "hidden_size": D_MODEL,
                 "num_classes": "None", "dropout": 0.0, "use_transformer_init": True},
        "decoding": {"strategy": "beam", "return_best_hypothesis": True,
                     "beam": {"beam_size": 1, "len_pen": 0.0, "max_generation_delta": 20}},
        "loss": {"_target_": "nemo.collections.common.losses.smoothed_cross_entropy.SmoothedCrossEntropyLoss",
                 "label_smoothing": 0.0, "pad_id": None},
        "train_ds": _ds_cfg(True), "validation_ds": _ds_cfg(False), "test_ds": _ds_cfg(False),
    }


def build_tiny_canary(out_dir: Path, prompt_format: str = "canary2") -> Path:
    """A tiny untrained Canary (``EncDecMultiTaskModel``, about 170k parameters) with the ``canary2`` or ``canary``
    prompt format and the languages :data:`CANARY_LANGUAGES`; built once per folder."""
    import torch
    from nemo.collections.asr.models import EncDecMultiTaskModel
    from omegaconf import OmegaConf

    path = Path(out_dir) / f"tiny-{prompt_format}.nemo"
    if path.exists():
        return path
    with _quiet_nemo():
        torch.manual_seed(SEED)
        model = EncDecMultiTaskModel(cfg=OmegaConf.create(tiny_canary_config(Path(out_dir), prompt_format)))
        model.eval()
        model.save_to(str(path))
    return path


CANARY_FRAME_S = WINDOW_STRIDE * SUBSAMPLING_FACTOR
"""One frame token ``<|N|>`` of the tiny Canary: N encoder frames of 80 ms."""


TAUGHT_TRANSLATION = ("es", "en", "left stop")
"""What the taught Canary says when asked to translate its clip from Spanish to English (no frame tokens)."""


def _canary_prompt(model, timestamps: bool, **slots: str) -> List[int]:
    """The prompt ``transcribe()`` gives the decoder: the defaults, ``slots``, the timestamp slot on or off."""
    slots = dict(CANARY_PROMPT_DEFAULTS["canary2"], **slots, timestamp="yes" if timestamps else "no")
    return model.prompt.encode_dialog(turns=[{"role": "user", "slots": slots}])["context_ids"].tolist()


def _taught_answers(model, words) -> List[tuple]:
    """(prompt, answer) token ids: with timestamps each word between its start and end frame tokens, as the
    canary-flash models answer (``<|4|> go<|9|><|14|> left<|19|>``); without, the plain words; asked for a
    translation (:data:`TAUGHT_TRANSLATION`), other words without frame tokens."""
    tokenizer = model.tokenizer
    framed = []
    for text, start, end in words:
        framed += [tokenizer.special_tokens[f"<|{round(start / CANARY_FRAME_S)}|>"], *tokenizer.text_to_ids(text, "en"),
                   tokenizer.special_tokens[f"<|{round(end / CANARY_FRAME_S)}|>"]]
    plain = tokenizer.text_to_ids(" ".join(text for text, _, _ in words), "en")
    source, target, translation = TAUGHT_TRANSLATION
    translated = tokenizer.text_to_ids(translation, target)
    return [(_canary_prompt(model, True), framed + [tokenizer.eos]),
            (_canary_prompt(model, False), plain + [tokenizer.eos]),
            (_canary_prompt(model, True, source_lang=source, target_lang=target), translated + [tokenizer.eos])]


def _teach(model, samples, answers, *, steps: int = 400, lr: float = 3e-3, good_enough: float = 0.02) -> None:
    """Fit ``model`` to give ``answers`` for ``samples`` (teacher forcing; about 100 steps, 2 s on a CPU)."""
    import torch

    audio = torch.from_numpy(samples.astype("float32"))[None]
    audio_len = torch.tensor([audio.shape[1]])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    last = float("inf")
    for _ in range(steps):
        loss = 0.0
        for prompt, answer in answers:
            sequence = torch.tensor(prompt + answer)[None]
            log_probs, _, _, _ = model(input_signal=audio, input_signal_length=audio_len, transcript=sequence[:, :-1],
                                       transcript_length=torch.tensor([sequence.shape[1] - 1]))
            loss = loss - log_probs[0, len(prompt) - 1 :].gather(1, sequence[0, len(prompt) :, None]).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        last = loss.item()
        if last < good_enough:
            break
    model.eval()
    if last >= good_enough:
        raise RuntimeError(f"the tiny Canary did not learn its clip (loss {last:.3f} after {steps} steps)")


def _bundle_aligner(model_path: Path, aligner: Path, out: Path) -> Path:
    """``model_path`` with the CTC model ``aligner`` inside, as canary-1b-v2 carries its alignment model: config
    and weights as ``timestamps_asr_model_config.yaml`` / ``timestamps_asr_model_weights.ckpt``, its tokenizer files
    beside them, and ``restore_timestamps_model`` on."""
    import tarfile
    import tempfile

    from omegaconf import OmegaConf

    renamed = {"model_config.yaml": "timestamps_asr_model_config.yaml",
               "model_weights.ckpt": "timestamps_asr_model_weights.ckpt"}
    with tempfile.TemporaryDirectory() as folder:
        root, extra = Path(folder) / "model", Path(folder) / "aligner"
        with tarfile.open(model_path) as tar:
            tar.extractall(root, filter="data")
        with tarfile.open(aligner) as tar:
            tar.extractall(extra, filter="data")
        config = OmegaConf.load(root / "model_config.yaml")
        config.restore_timestamps_model = True
        OmegaConf.save(config, root / "model_config.yaml")
        for item in extra.iterdir():
            item.rename(root / renamed.get(item.name, item.name))
        with tarfile.open(out, "w") as tar:
            for item in sorted(root.iterdir()):
                tar.add(item, arcname=f"./{item.name}")
    return out


def build_taught_canary(out_dir: Path, samples, words, *, aligner: Optional[Path] = None) -> Path:
    """A tiny ``canary2`` Canary taught one clip, so that the real ``transcribe()`` gives real timestamps; taught once
    per folder (the folder's model is reused, whatever clip is given later), bundled once per folder.

    ``words`` are ``(text, start_s, end_s)`` of ``samples`` (16 kHz). Asked with the timestamp slot on, the model
    answers as canary-1b-flash and canary-180m-flash do, each word between frame tokens ``<|N|>`` (NeMo turns them
    into word offsets); with it off, the plain words. With ``aligner`` (a CTC ``.nemo`` that knows the words), the
    model carries it as canary-1b-v2 carries its alignment model, and NeMo aligns the words with it.
    """
    import torch
    from nemo.collections.asr.models import EncDecMultiTaskModel
    from omegaconf import OmegaConf

    out_dir = Path(out_dir)
    path = out_dir / ("taught-canary2-aligner.nemo" if aligner else "taught-canary2.nemo")
    taught = out_dir / "taught-canary2.nemo"
    with _quiet_nemo():
        if not taught.exists():
            torch.manual_seed(SEED)
            model = EncDecMultiTaskModel(cfg=OmegaConf.create(tiny_canary_config(out_dir, "canary2")))
            _teach(model, samples, _taught_answers(model, words))
            model.save_to(str(taught))
        if aligner is not None and not path.exists():
            _bundle_aligner(taught, Path(aligner), path)
    return path
