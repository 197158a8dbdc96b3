#!/usr/bin/env python3
"""
SigLIP-family tokenizers and image processing made and run by transformers itself, for
test/families/siglip.test.ts. Nothing here is clipql's code.

  siglip_tokenizers.py OUT SHARED     (the project's venv: transformers, sentencepiece, protobuf, Pillow)

- OUT/siglip/: spiece.model only (a SentencePiece unigram model trained here: SigLIP's kind) +
  config.json (model_type siglip) + preprocessor_config.json from SiglipImageProcessor: the
  google/siglip-* layout, no tokenizer.json.
- OUT/siglip2/: a Gemma-style tokenizer (SentencePiece BPE with byte fallback trained here, read
  by GemmaTokenizer.from_pretrained, saved as tokenizer.json) with tokenizer_class
  Siglip2Tokenizer, padding_side right, and a 256 x 256 preprocessor.
- OUT/answers.json: for every string of STRINGS (the 220 shared caption strings, multilingual
  text, whitespace oddities, over-long text): SiglipTokenizer's / Siglip2Tokenizer's ids with
  padding="max_length", max_length=64, truncation=True; and SiglipImageProcessor's pixel_values
  for each notebook image in OUT/pixels/: unscaled (do_rescale/do_normalize off: the uint8
  pixels, NAME.u8) and as the model takes them (NAME.f32 at 224, NAME.256.f32, NAME.wide.f32 at
  160 x 96), CHW float32.
"""
import json
import os
import sys

import numpy as np
import sentencepiece as spm
from PIL import Image
from transformers import GemmaTokenizer, Siglip2Tokenizer, SiglipConfig, SiglipImageProcessor, SiglipTokenizer

OUT, SHARED = sys.argv[1], sys.argv[2]
CASES = [c["text"] for c in json.load(open(os.path.join(SHARED, "clip", "tokenizer-reference.json")))["cases"]]
MULTILINGUAL = [
    "Ein Hund läuft über die Straße", "Ça a été très élégant, naïve café", "ÀÉÎÕÜ ñ ß ĳ", "一只猫坐在木地板上",
    "日本語のテキスト、カタカナ", "قطة تجلس على الأرض", "Кошка сидит на полу", "ΟΔΟΣ και ΣΟΦΙΑ", "İstanbul'da IŞIK",
    "🐶 dog 🐱 cat 👩‍👩‍👧", "한국어 문장입니다", "हिन्दी वाक्य", "x\u0301 combining", "Ǆemal ǅ", "ﬁne ① ｆｕｌｌ ㎏ Ⅻ", "zero\u200bwidth\u200djoin\ufeffbom", "σοφία ΣΟΦΊΑΣ",
]
ODDITIES = ["", " ", "  leading   and trailing  ", "tab\tnew\nline\r\nend", "\u00a0nbsp\u2003em\u3000ideo", "a\u2581b ▁▁", "hello!!! ... what?", "under_score-dash", "</s> and <pad> <unk>"]
LONG = ["x" * 300, "a photo of " * 40, "红色的汽车停在路边" * 20, "word " * 100 + "end"]
STRINGS = CASES + MULTILINGUAL + ODDITIES + LONG


def train(kind, prefix, **kw):
    corpus = os.path.join(OUT, "corpus.txt")
    with open(corpus, "w") as f:
        f.write("\n".join((CASES + MULTILINGUAL + ODDITIES) * 4))
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(OUT, prefix), model_type=kind, character_coverage=0.995,
                                   hard_vocab_limit=False, minloglevel=2, **kw)
    return os.path.join(OUT, prefix + ".model")


def main():
    os.makedirs(OUT, exist_ok=True)
    # SigLIP: unigram, pad/eos </s> = 1, unk 2 (google/siglip-*'s layout)
    uni = train("unigram", "unigram", vocab_size=700, pad_id=0, pad_piece="<pad>", eos_id=1, unk_id=2, bos_id=-1)
    sdir = os.path.join(OUT, "siglip")
    os.makedirs(sdir, exist_ok=True)
    os.replace(uni, os.path.join(sdir, "spiece.model"))
    siglip_tok = SiglipTokenizer(vocab_file=os.path.join(sdir, "spiece.model"))
    proc = SiglipImageProcessor()
    proc.save_pretrained(sdir)
    # SigLIP 2: Gemma's conventions (pad 0, eos 1, bos 2, unk 3), BPE with byte fallback, no normaliser
    bpe = train("bpe", "bpe", vocab_size=800, byte_fallback=True, pad_id=0, pad_piece="<pad>", eos_id=1, eos_piece="<eos>", bos_id=2, bos_piece="<bos>",
                unk_id=3, add_dummy_prefix=False, normalization_rule_name="identity", remove_extra_whitespaces=False, split_by_whitespace=False,
                allow_whitespace_only_pieces=True)
    gdir = os.path.join(OUT, "gemma")
    os.makedirs(gdir, exist_ok=True)
    os.replace(bpe, os.path.join(gdir, "tokenizer.model"))
    s2dir = os.path.join(OUT, "siglip2")
    GemmaTokenizer.from_pretrained(gdir).save_pretrained(s2dir)
    cfg_file = os.path.join(s2dir, "tokenizer_config.json")
    cfg = json.load(open(cfg_file))
    cfg.update(tokenizer_class="Siglip2Tokenizer", padding_side="right")
    json.dump(cfg, open(cfg_file, "w"))
    siglip2_tok = Siglip2Tokenizer.from_pretrained(s2dir)
    assert siglip2_tok.padding_side == "right"
    proc2 = SiglipImageProcessor(size={"height": 256, "width": 256})
    proc2.save_pretrained(s2dir)
    for d, p in ((sdir, 16), (s2dir, 14)):
        config = SiglipConfig(text_config=dict(max_position_embeddings=64), vision_config=dict(patch_size=p, image_size=224 if d == sdir else 256))
        config.save_pretrained(d)

    def ids(tok, text):
        return tok(text, padding="max_length", max_length=64, truncation=True)["input_ids"]

    images = sorted(f for f in os.listdir(os.path.join(SHARED, "images", "notebook")) if f.endswith((".png", ".jpg")))
    raw = SiglipImageProcessor(do_rescale=False, do_normalize=False)
    wide = SiglipImageProcessor(size={"height": 96, "width": 160})
    pdir = os.path.join(OUT, "pixels")
    os.makedirs(pdir, exist_ok=True)
    for name in images:
        img = Image.open(os.path.join(SHARED, "images", "notebook", name))
        # CHW, as the processors answer; uint8 exactly (the unscaled values are whole numbers)
        u8 = np.asarray(raw(img, return_tensors="np")["pixel_values"][0])
        assert np.array_equal(u8, np.round(u8)) and u8.min() >= 0 and u8.max() <= 255
        u8.astype(np.uint8).tofile(os.path.join(pdir, name + ".u8"))
        for key, p in (("f32", proc), ("256.f32", proc2), ("wide.f32", wide)):
            np.asarray(p(img, return_tensors="np")["pixel_values"][0], dtype=np.float32).tofile(os.path.join(pdir, f"{name}.{key}"))
    answers = {
        "strings": STRINGS,
        "siglip": [ids(siglip_tok, s) for s in STRINGS],
        "siglip2": [ids(siglip2_tok, s) for s in STRINGS],
        "siglip_untruncated": [len(siglip_tok(s)["input_ids"]) for s in STRINGS],
        "siglip2_untruncated": [len(siglip2_tok(s)["input_ids"]) for s in STRINGS],
        "images": images,
    }
    with open(os.path.join(OUT, "answers.json"), "w") as f:
        json.dump(answers, f)
    print(json.dumps({"strings": len(STRINGS), "images": len(images), "siglip_pad": siglip_tok.pad_token_id, "siglip2_pad": siglip2_tok.pad_token_id}))


main()
