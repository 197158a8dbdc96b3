#!/usr/bin/env python3
"""
Two vision towers at ViT-B/16 shapes with random weights (speed does not depend on values), made
by transformers itself and exported to ONNX for scripts/bench/backends/siglip-vs-clip.ts:

  vision_towers.py OUT     ->  OUT/clip-b-16/onnx/vision_model.onnx    CLIPVisionModelWithProjection
                               OUT/siglip-b-16/onnx/vision_model.onnx  SiglipVisionModel (its pooled output)

Both: 224 px, patch 16, width 768, 12 layers, 12 heads, MLP 3072 (openai/clip-vit-base-patch16 and
google/siglip-base-patch16-224). pixel_values [batch, 3, 224, 224] -> image_embeds [batch, D].
Prints RESULT {"clip": {"gflops": ...}, "siglip": {...}}: multiply-adds x 2 per image, counted from the
shapes (the encoder blocks, the patch embedding, CLIP's projection, SigLIP's attention-pooling head).
"""
import json
import os
import sys

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, SiglipVisionConfig, SiglipVisionModel

OUT = sys.argv[1]
W, L, H, M, P, S = 768, 12, 12, 3072, 16, 224


class Tower(torch.nn.Module):
    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, pixel_values):
        out = self.model(pixel_values=pixel_values)
        return out.image_embeds if self.kind == "clip" else out.pooler_output


def block_flops(tokens):
    # q, k, v, out projections; attention scores and mix; the MLP
    return 2 * (4 * tokens * W * W + 2 * tokens * tokens * W + 2 * tokens * W * M)


def export(kind, model):
    folder = os.path.join(OUT, f"{kind}-b-16", "onnx")
    os.makedirs(folder, exist_ok=True)
    x = torch.randn(2, 3, S, S)
    torch.onnx.export(Tower(model.eval(), kind), (x,), os.path.join(folder, "vision_model.onnx"), input_names=["pixel_values"], output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset_version=17, dynamo=False)


patches = (S // P) ** 2
torch.manual_seed(0)
export("clip", CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=W, num_hidden_layers=L, num_attention_heads=H, intermediate_size=M, patch_size=P, image_size=S, projection_dim=512)))
export("siglip", SiglipVisionModel(SiglipVisionConfig(hidden_size=W, num_hidden_layers=L, num_attention_heads=H, intermediate_size=M, patch_size=P, image_size=S)))
embed = 2 * patches * 3 * P * P * W
clip = L * block_flops(patches + 1) + embed + 2 * W * 512
# the head: one probe attending over the patches (k, v of every patch, q and out of one), then an MLP on it
siglip = L * block_flops(patches) + embed + 2 * (2 * patches * W * W + 2 * W * W + 2 * patches * W + 2 * W * M)
print("RESULT " + json.dumps({"clip": {"gflops": clip / 1e9}, "siglip": {"gflops": siglip / 1e9}}))
