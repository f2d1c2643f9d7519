"""The TF-Hub "Classify text with BERT" tutorial's first cells, on wgbert.

In the tutorial::

    bert_preprocess_model = hub.KerasLayer(tfhub_handle_preprocess)
    text_test = ['this is such an amazing movie!']
    text_preprocessed = bert_preprocess_model(text_test)
    bert_model = hub.KerasLayer(tfhub_handle_encoder)
    bert_results = bert_model(text_preprocessed)

Here the two layers are `wgbert.hub.Preprocess` and `wgbert.hub.Encoder`; everything else is the
tutorial's. Run: `python examples/python/tf_hub_tutorial.py [MODEL_DIR]` after
`pip install ./python` (the default model: scripts/fetch-model.sh).
"""

import sys

import numpy as np

import wgbert
import wgbert.hub as hub

model_dir = sys.argv[1] if len(sys.argv) > 1 else None

# %% Preprocess: the model's own tokenizer, [CLS] … [SEP], padded to seq_length 128.
bert_preprocess_model = hub.Preprocess(model_dir)
text_test = ["nice movie indeed", "I love python programming"]
text_preprocessed = bert_preprocess_model(text_test)

print(f"Keys       : {list(text_preprocessed.keys())}")
print(f"Shape      : {text_preprocessed['input_word_ids'].shape}")
print(f"Word Ids   : {text_preprocessed['input_word_ids'][0, :12]}")
print(f"Input Mask : {text_preprocessed['input_mask'][0, :12]}")
print(f"Type Ids   : {text_preprocessed['input_type_ids'][0, :12]}")

# %% Encode: pooled_output, sequence_output and every layer's output.
bert_model = hub.Encoder(model_dir)
bert_results = bert_model(text_preprocessed)

print(f"Loaded BERT: {bert_model.model.path} on {bert_model.model.adapter}")
print(f"Pooled Outputs Shape:{bert_results['pooled_output'].shape}")
print(f"Pooled Outputs Values:{bert_results['pooled_output'][0, :12]}")
print(f"Sequence Outputs Shape:{bert_results['sequence_output'].shape}")
print(f"Sequence Outputs Values:{bert_results['sequence_output'][0, :12]}")
print(f"Encoder Outputs: {len(bert_results['encoder_outputs'])} layers, the last equal to sequence_output: "
      f"{np.array_equal(bert_results['encoder_outputs'][-1], bert_results['sequence_output'])}")

# %% Contextual word vectors: "fair" in "a fair trial" vs "a county fair".
sentences = ["a fair trial", "a county fair", "the judge was fair"]
enc = bert_model(bert_preprocess_model(sentences))["sequence_output"]
pieces = [bert_preprocess_model.tokenize(s) for s in sentences]
fair = [enc[i, 1 + p.index("fair")] for i, p in enumerate(pieces)]  # +1: [CLS]
sim = wgbert.cos_sim(np.stack(fair), np.stack(fair))
print("cosine of 'fair' (trial / county / judge):")
print(np.round(sim, 3))

# %% Sentence embeddings, as sentence-transformers gives them.
st = wgbert.SentenceTransformer(model_dir)
emb = st.encode(sentences)
print(f"sentence embeddings {emb.shape}; similarity:")
print(np.round(st.similarity(emb, emb), 3))
