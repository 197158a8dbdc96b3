"""
tokenizer.json for a SigLIP folder that has only spiece.model (google/siglip-*): transformers'
SiglipTokenizer read by transformers' generic SentencePiece converter (SpmConverter: the
Precompiled normaliser of the model's charsmap, Metaspace, Unigram). SiglipTokenizer's own
steps around SentencePiece (lowercase, ASCII punctuation removed, whitespace collapsed, </s>
appended) are not in that file: clipql's siglip family does them (tokenizer.ts).

usage: derive_tokenizer.py MODEL_DIR OUT_DIR   (writes OUT_DIR/tokenizer.json and
tokenizer_config.json; never writes into MODEL_DIR)
"""
import json
import os
import sys

from transformers import SiglipTokenizer
from transformers.convert_slow_tokenizer import SpmConverter


def main(model_dir: str, out_dir: str) -> None:
    tok = SiglipTokenizer.from_pretrained(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    cfg = {
        "tokenizer_class": "SiglipTokenizer",
        "eos_token": str(tok.eos_token),
        "pad_token": str(tok.pad_token),
        "unk_token": str(tok.unk_token),
        "do_lower_case": bool(tok.do_lower_case),
        "padding_side": tok.padding_side,
    }
    tmp = os.path.join(out_dir, f"tokenizer.json.{os.getpid()}")
    SpmConverter(tok).converted().save(tmp)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)
    os.replace(tmp, os.path.join(out_dir, "tokenizer.json"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
